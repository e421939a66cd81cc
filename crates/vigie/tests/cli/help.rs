//! `--help` on every subcommand.

use crate::support::Vigie;

/// (subcommand path, words its help must contain)
const HELP: &[(&[&str], &str)] = &[
    (&[], "Self-hosted e-reputation monitoring"),
    (&["demo"], "import the bundled airline tweets"),
    (&["watch"], "Define what to watch"),
    (&["watch", "add"], "Add a watch"),
    (&["watch", "list"], "List the project's watches"),
    (&["watch", "remove"], "Remove a watch"),
    (&["watch", "test"], "Say whether a text matches a watch"),
    (&["source"], "Manage the places mentions are collected from"),
    (&["source", "add"], "Add a source"),
    (&["source", "list"], "List sources with their health"),
    (&["source", "remove"], "Remove a source"),
    (&["import"], "Import mentions from a JSON Lines or CSV file"),
    (&["collect"], "Fetch the sources that are due"),
    (&["search"], "Search stored mentions with the query language"),
    (&["export"], "Export stored mentions as JSON Lines or CSV"),
];

fn help(vigie: &Vigie, path: &[&str]) -> String {
    let mut args = path.to_vec();
    args.push("--help");
    let run = vigie.run(&args).success();
    assert_eq!(run.stderr, "", "{args:?}");
    run.stdout
}

#[test]
fn every_subcommand_has_help_that_says_what_it_does() {
    let vigie = Vigie::new();
    for (path, purpose) in HELP {
        let out = help(&vigie, path);
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(purpose), "`vigie {} --help` does not say {purpose:?}:\n{out}", path.join(" "));
        assert!(out.contains(&format!("Usage: vigie {}", path.iter().map(|p| format!("{p} ")).collect::<String>())));
    }
    assert!(!vigie.data_dir().exists(), "--help must not create the data directory");
}

/// Commands added later are covered too: each one listed by `vigie --help`
/// has a help page that starts with its one-line description.
#[test]
fn every_listed_command_has_a_help_page() {
    let vigie = Vigie::new();
    let top = help(&vigie, &[]);
    let commands: Vec<(String, String)> = top
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.trim().split_once(' ').map(|(c, d)| (c.to_string(), d.trim().to_string())))
        .filter(|(c, _)| c != "help")
        .collect();
    assert!(commands.len() >= 7, "{top}");
    for (command, description) in commands {
        let out = help(&vigie, &[&command]);
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.starts_with(&description), "`vigie {command} --help` should start with {description:?}:\n{out}");
    }
}

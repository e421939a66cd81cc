//! `vigie detect --input FILE.csv` (being written).

use std::io::Write;

use crate::cli::DetectArgs;

pub fn run(args: DetectArgs, _out: &mut dyn Write) -> anyhow::Result<()> {
    anyhow::bail!("vigie detect is not built yet ({})", args.input.display())
}

//! `vigie eval spikes --nab DIR` (being written).

use std::path::Path;

/// The Markdown section of the spike evaluation.
pub fn eval_spikes(nab: &Path) -> anyhow::Result<String> {
    anyhow::bail!("vigie eval spikes is not built yet ({})", nab.display())
}

//! `runtime.json`: how `haneul env` finds the running instance (its addresses and mode).
//! Written after the listeners are bound, removed on clean exit; a stale one is recognised
//! by its pid no longer running.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const RUNTIME_FILE: &str = "runtime.json";
/// Written in the default data dir by a dev instance whose state is in a temp dir.
pub const DEV_RUNTIME_FILE: &str = "dev-runtime.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    pub api: String,
    pub dns: Option<String>,
    pub region: String,
    pub account_id: String,
    pub dev: bool,
    pub data_dir: PathBuf,
}

impl RuntimeInfo {
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }

    /// Reads `path` if it names a process that is still running.
    pub fn read_live(path: &Path) -> Option<RuntimeInfo> {
        let text = std::fs::read_to_string(path).ok()?;
        let info: RuntimeInfo = serde_json::from_str(&text).ok()?;
        process_alive(info.pid).then_some(info)
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // Signal 0 checks existence and permission without delivering anything.
    // SAFETY: kill(2) with signal 0 has no side effects.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

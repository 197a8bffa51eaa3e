//! The exclusive lock every write of the secrets takes: `secrets.lock`, locked with the
//! operating system's file lock (`flock` on Unix, `LockFileEx` on Windows).

use std::fs::File;
use std::path::Path;

use crate::error::ConfigError;

/// Held until dropped (closing the file releases the lock, also when the process dies).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Waits for the lock of `path`, creating the file (mode `0600`) and its directory.
    pub(crate) fn acquire(path: &Path) -> Result<FileLock, ConfigError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ConfigError::write(dir, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| ConfigError::write(path, e))?;
        file.lock().map_err(|e| ConfigError::write(path, e))?;
        Ok(FileLock { _file: file })
    }
}

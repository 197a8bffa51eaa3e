//! Real Redis and Memcached servers, and a real Secret Service, for tests: never a mock
//! standing in for them.
//!
//! [`RedisServer::start`] and [`MemcachedServer::start`] run the OS's `redis-server` and
//! `memcached` on a free loopback port, in a temporary directory, for as long as the value
//! lives (dropping it stops the server). When a server program is missing, the first test
//! that needs it installs the Debian packages `redis-server` and `memcached` with `apt-get`
//! if it runs as root (one installer at a time, across test processes); otherwise it fails
//! with [`TestServerError::NotInstalled`], naming the package to install.
//!
//! [`SecretService::start`] runs GNOME Keyring's Secret Service on a private D-Bus session
//! bus in a temporary home (packages `dbus`, `gnome-keyring` and `procps`, installed the same
//! way): a real OS keyring for keyring tests, never the user's own.
//!
//! ```no_run
//! # fn run() -> Result<(), perspio_store::testing::TestServerError> {
//! let redis = perspio_store::testing::RedisServer::start()?;
//! let url = redis.url(); // redis://127.0.0.1:<port>/
//! # let _ = url;
//! # Ok(()) }
//! ```

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod secret_service;

pub use secret_service::SecretService;

/// Why a test server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestServerError {
    /// The program is not installed and could not be installed here.
    #[error(
        "`{program}` is not installed and this test cannot install it ({why}); install the OS package `{package}` (Debian/Ubuntu: `apt-get install {package}`)"
    )]
    NotInstalled {
        /// The missing program.
        program: &'static str,
        /// The OS package that provides it.
        package: &'static str,
        /// Why no installation was attempted, or how it failed.
        why: String,
    },
    /// A service that listens on no port (a D-Bus bus, the keyring on it) did not start or
    /// did not answer.
    #[error("`{program}` did not start: {why}")]
    ServiceDidNotStart {
        /// The program.
        program: &'static str,
        /// What went wrong.
        why: String,
    },
    /// The server did not start or did not answer.
    #[error("`{program}` did not start on 127.0.0.1:{port}: {why}")]
    DidNotStart {
        /// The server program.
        program: &'static str,
        /// The port it was given.
        port: u16,
        /// What went wrong.
        why: String,
    },
}

/// The two programs and their Debian packages (installed together).
const PACKAGES: [(&str, &str); 2] = [("redis-server", "redis-server"), ("memcached", "memcached")];

/// A `redis-server` on 127.0.0.1 for the lifetime of this value.
#[derive(Debug)]
pub struct RedisServer {
    server: Server,
}

impl RedisServer {
    /// Starts a server on a free port, with no persistence.
    ///
    /// # Errors
    /// [`TestServerError`] when the program is missing and cannot be installed, or the server
    /// does not answer `PING` within 10 s.
    pub fn start() -> Result<Self, TestServerError> {
        Ok(Self {
            server: Server::start(Kind::Redis)?,
        })
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.server.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Stops the server (as an outage would); [`restart`](Self::restart) brings it back on the
    /// same port, empty.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts the server again on the same port.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn restart(&mut self) -> Result<(), TestServerError> {
        self.server.restart()
    }
}

/// A `memcached` on 127.0.0.1 for the lifetime of this value.
#[derive(Debug)]
pub struct MemcachedServer {
    server: Server,
}

impl MemcachedServer {
    /// Starts a server on a free port.
    ///
    /// # Errors
    /// As [`RedisServer::start`] (the check is `version`).
    pub fn start() -> Result<Self, TestServerError> {
        Ok(Self {
            server: Server::start(Kind::Memcached)?,
        })
    }

    /// `memcache://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("memcache://127.0.0.1:{}", self.server.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Stops the server; [`restart`](Self::restart) brings it back on the same port, empty.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts the server again on the same port.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn restart(&mut self) -> Result<(), TestServerError> {
        self.server.restart()
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Redis,
    Memcached,
}

impl Kind {
    fn program(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Memcached => "memcached",
        }
    }

    fn package(self) -> &'static str {
        self.program()
    }

    fn command(self, program: &Path, port: u16, dir: &Path) -> Command {
        let mut command = Command::new(program);
        match self {
            Kind::Redis => {
                command.args(["--bind", "127.0.0.1", "--port"]);
                command.arg(port.to_string());
                command.args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
                command.args(["--protected-mode", "yes", "--dir"]);
                command.arg(dir);
            }
            Kind::Memcached => {
                command.args(["-l", "127.0.0.1", "-U", "0", "-m", "16", "-p"]);
                command.arg(port.to_string());
                // memcached refuses to run as root without a user to switch to.
                command.args(["-u", "root"]);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// A request and the prefix of a healthy answer.
    fn probe(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Redis => (b"PING\r\n", b"+PONG"),
            Kind::Memcached => (b"version\r\n", b"VERSION"),
        }
    }
}

#[derive(Debug)]
struct Server {
    kind: Kind,
    program: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Server {
    fn start(kind: Kind) -> Result<Self, TestServerError> {
        let packages: Vec<&str> = PACKAGES.iter().map(|(_, package)| *package).collect();
        let program = ensure_installed(kind.program(), kind.package(), &packages)?;
        let dir = tempfile::tempdir().map_err(|e| TestServerError::DidNotStart {
            program: kind.program(),
            port: 0,
            why: format!("no temporary directory: {e}"),
        })?;
        let mut server = Server {
            kind,
            program,
            port: 0,
            dir,
            child: None,
        };
        // A port found free can be taken before the server binds it: try a few.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port().map_err(|e| TestServerError::DidNotStart {
                program: kind.program(),
                port: 0,
                why: format!("no free loopback port: {e}"),
            })?;
            match server.restart() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(TestServerError::DidNotStart {
            program: kind.program(),
            port: 0,
            why: "no attempt was made".into(),
        }))
    }

    fn restart(&mut self) -> Result<(), TestServerError> {
        self.stop();
        let fail = |why: String| TestServerError::DidNotStart {
            program: self.kind.program(),
            port: self.port,
            why,
        };
        let mut child = self
            .kind
            .command(&self.program, self.port, self.dir.path())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.program.display())))?;
        let (request, healthy) = self.kind.probe();
        let port = self.port;
        await_ready(&mut child, "no healthy answer", || {
            answers(port, request, healthy)
        })
        .map_err(fail)?;
        self.child = Some(child);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits for `ready` while `child` runs, 10 s at most: `Err` says why not (it exited, with its
/// standard error; or `not_ready` within 10 s, and then it is killed).
fn await_ready(
    child: &mut Child,
    not_ready: &str,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Err(format!(
                "exited with {status}: {}",
                perspio_core::text::remote(&stderr)
            ));
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{not_ready} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn answers(port: u16, request: &[u8], healthy: &[u8]) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut answer = [0u8; 16];
    matches!(stream.read(&mut answer), Ok(n) if answer[..n].starts_with(healthy))
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The path of `program` (from the OS package `package`), installing `packages` (which
/// include it) first if it is missing and we may.
fn ensure_installed(
    program: &'static str,
    package: &'static str,
    packages: &[&str],
) -> Result<PathBuf, TestServerError> {
    if let Some(path) = find(program) {
        return Ok(path);
    }
    let not_installed = |why: String| TestServerError::NotInstalled {
        program,
        package,
        why,
    };
    if !is_root() {
        return Err(not_installed("it does not run as root".into()));
    }
    let Some(apt) = find("apt-get") else {
        return Err(not_installed("there is no apt-get".into()));
    };
    // One installer at a time, across every test process of the run.
    let lock_path = std::env::temp_dir().join("perspio-test-servers-install.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| not_installed(format!("cannot open {}: {e}", lock_path.display())))?;
    lock.lock()
        .map_err(|e| not_installed(format!("cannot lock {}: {e}", lock_path.display())))?;
    if let Some(path) = find(program) {
        return Ok(path);
    }
    let install = || {
        Command::new(&apt)
            .args(["install", "-y", "--no-install-recommends", "-q"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let mut installed = install().is_ok_and(|s| s.success());
    if !installed {
        // A fresh machine may have no package lists yet.
        let updated = Command::new(&apt)
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        installed = updated && install().is_ok_and(|s| s.success());
    }
    drop(lock);
    match find(program) {
        Some(path) => Ok(path),
        None if installed => Err(not_installed(
            "apt-get succeeded but the program is not on PATH".into(),
        )),
        None => Err(not_installed(format!(
            "`apt-get install {}` failed",
            packages.join(" ")
        ))),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

//! A real Secret Service for keyring tests: GNOME Keyring's `gnome-keyring-daemon` on a
//! private D-Bus session bus, in a temporary home, its login keyring unlocked with a password
//! of the test's. Nothing of the user's own session (bus, keyring, home) is touched.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{TestServerError, await_ready, ensure_installed};

/// The OS packages: `dbus` brings `dbus-daemon` and `dbus-send`, `gnome-keyring` the daemon,
/// `procps` the `kill` that pauses it.
const PACKAGES: [&str; 3] = ["dbus", "gnome-keyring", "procps"];

/// The password of the test's login keyring (in a temporary home).
const PASSWORD: &str = "perspio-test-keyring";

/// A session bus that activates no service: only what the test starts is on it (no prompter,
/// no second keyring started behind the test's back when it stops its own).
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// A Secret Service (GNOME Keyring) on a private D-Bus session bus, for as long as the value
/// lives: point a program at it with `DBUS_SESSION_BUS_ADDRESS` =
/// [`bus_address`](Self::bus_address). Dropping it stops the keyring and the bus.
///
/// When `dbus-daemon`, `gnome-keyring-daemon` or `kill` is missing, the Debian packages `dbus`,
/// `gnome-keyring` and `procps` are installed as for [`RedisServer`](super::RedisServer).
///
/// ```no_run
/// # fn run() -> Result<(), perspio_store::testing::TestServerError> {
/// let keyring = perspio_store::testing::SecretService::start()?;
/// let mut command = std::process::Command::new("perspio");
/// command.env("DBUS_SESSION_BUS_ADDRESS", keyring.bus_address());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SecretService {
    dir: tempfile::TempDir,
    address: String,
    keyring_program: PathBuf,
    dbus_send: PathBuf,
    kill: PathBuf,
    bus: Child,
    keyring: Option<Child>,
}

impl SecretService {
    /// Starts a session bus and the keyring on it, its login keyring (the default
    /// collection) unlocked.
    ///
    /// # Errors
    /// [`TestServerError`] when a program is missing and cannot be installed, or the bus or
    /// the keyring does not start within 10 s.
    pub fn start() -> Result<Self, TestServerError> {
        let dbus_daemon = ensure_installed("dbus-daemon", "dbus", &PACKAGES)?;
        let dbus_send = ensure_installed("dbus-send", "dbus", &PACKAGES)?;
        let keyring_program = ensure_installed("gnome-keyring-daemon", "gnome-keyring", &PACKAGES)?;
        let kill = ensure_installed("kill", "procps", &PACKAGES)?;
        let fail = |why: String| TestServerError::ServiceDidNotStart {
            program: "dbus-daemon",
            why,
        };
        let dir = tempfile::tempdir().map_err(|e| fail(format!("no temporary directory: {e}")))?;
        for sub in ["home", "run", "data", "config"] {
            private_dir(&dir.path().join(sub))
                .map_err(|e| fail(format!("cannot create {sub}: {e}")))?;
        }
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            BUS_CONFIG.replace("@SOCKET@", &socket.display().to_string()),
        )
        .map_err(|e| fail(format!("cannot write {}: {e}", config.display())))?;
        let mut bus = Command::new(&dbus_daemon)
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", dbus_daemon.display())))?;
        // Its first line of output is the address, written once it listens; end of output
        // without one is a bus that did not start.
        let mut address = String::new();
        if let Some(stdout) = bus.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut address);
        }
        let address = address.trim().to_owned();
        if address.is_empty() {
            let _ = bus.kill();
            let _ = bus.wait();
            return Err(fail("it printed no address".into()));
        }
        let mut service = SecretService {
            dir,
            address,
            keyring_program,
            dbus_send,
            kill,
            bus,
            keyring: None,
        };
        service.restart()?;
        Ok(service)
    }

    /// The bus's address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn bus_address(&self) -> &str {
        &self.address
    }

    /// Stops the keyring (as a keyring that went away would); the bus stays, and nothing on
    /// it answers for the Secret Service until [`restart`](Self::restart).
    pub fn stop(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
    }

    /// Freezes the keyring (`SIGSTOP`): it stays on the bus and answers nothing, as a keyring
    /// waiting for an unlock prompt nobody sees does. [`resume`](Self::resume) thaws it.
    ///
    /// # Errors
    /// [`TestServerError::ServiceDidNotStart`] when the keyring is not running or `kill`
    /// fails.
    pub fn pause(&mut self) -> Result<(), TestServerError> {
        self.signal("-STOP")
    }

    /// Thaws a keyring [`pause`](Self::pause) froze (`SIGCONT`); it answers what waited.
    ///
    /// # Errors
    /// As [`pause`](Self::pause).
    pub fn resume(&mut self) -> Result<(), TestServerError> {
        self.signal("-CONT")
    }

    fn signal(&mut self, signal: &str) -> Result<(), TestServerError> {
        let fail = |why: String| TestServerError::ServiceDidNotStart {
            program: "gnome-keyring-daemon",
            why,
        };
        let pid = self
            .keyring
            .as_ref()
            .map(Child::id)
            .ok_or_else(|| fail("it is not running".into()))?;
        let sent = Command::new(&self.kill)
            .args([signal, &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.kill.display())))?;
        if sent.success() {
            Ok(())
        } else {
            Err(fail(format!("kill {signal} {pid} failed: {sent}")))
        }
    }

    /// Starts the keyring again, with what it held (its files are kept), and unlocks it.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn restart(&mut self) -> Result<(), TestServerError> {
        self.stop();
        let fail = |why: String| TestServerError::ServiceDidNotStart {
            program: "gnome-keyring-daemon",
            why,
        };
        let dir = self.dir.path();
        let mut keyring = Command::new(&self.keyring_program)
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", dir.join("home"))
            .env("XDG_RUNTIME_DIR", dir.join("run"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                fail(format!(
                    "cannot run {}: {e}",
                    self.keyring_program.display()
                ))
            })?;
        // `--unlock` reads the login keyring's password from stdin, to the end: it creates the
        // keyring with it the first time and opens it with it after.
        if let Some(mut stdin) = keyring.stdin.take()
            && let Err(e) = stdin.write_all(PASSWORD.as_bytes())
        {
            let _ = keyring.kill();
            let _ = keyring.wait();
            return Err(fail(format!("cannot give it the password: {e}")));
        }
        await_ready(
            &mut keyring,
            "the Secret Service had no default collection",
            || self.default_collection_is_open(),
        )
        .map_err(fail)?;
        self.keyring = Some(keyring);
        Ok(())
    }

    /// How many items of the keyring carry the attribute `name` = `value` (the Secret
    /// Service's `SearchItems`, locked and unlocked): what a test reads to see that an entry
    /// was written, or removed, without a client library of its own.
    ///
    /// # Errors
    /// [`TestServerError::ServiceDidNotStart`] when the keyring does not answer.
    pub fn items(&self, name: &str, value: &str) -> Result<usize, TestServerError> {
        let fail = |why: String| TestServerError::ServiceDidNotStart {
            program: "gnome-keyring-daemon",
            why,
        };
        let out = Command::new(&self.dbus_send)
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.SearchItems",
            ])
            .arg(format!("dict:string:string:{name},{value}"))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.dbus_send.display())))?;
        if !out.status.success() {
            return Err(fail(format!("SearchItems failed: {}", out.status)));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .matches("object path \"")
            .count())
    }

    /// Whether the Secret Service answers on the bus with a default collection (the login
    /// keyring, created and unlocked by `--unlock`).
    fn default_collection_is_open(&self) -> bool {
        Command::new(&self.dbus_send)
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.ReadAlias",
                "string:default",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|out| {
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains("/collection/")
            })
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // A frozen keyring is thawed first, so that it can end.
        let _ = self.resume();
        self.stop();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// A directory only its owner can enter (the keyring's runtime directory must be).
fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

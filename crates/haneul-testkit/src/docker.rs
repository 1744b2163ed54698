//! The Docker engine for registry (and container) tests: [`Docker::require`] fails the test
//! loudly when there is no engine — a test that needs Docker never passes without it —,
//! images are built locally from a static busybox (the engine here can pull nothing), and
//! every image a test made is removed when its [`LocalImage`] is dropped.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the static busybox comes from (Debian's `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";

pub struct Docker {
    /// `DOCKER_CONFIG` of this test: logins never touch the user's `~/.docker`.
    config: tempfile::TempDir,
}

/// A local image name unique to this test process.
pub fn unique_name(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "haneul-test-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Docker {
    /// The engine, or a panic saying what is missing.
    pub fn require() -> Docker {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .unwrap_or_else(|e| panic!("this test needs the docker CLI and a running Docker engine: {e}"));
        assert!(
            info.status.success(),
            "this test needs a running Docker engine: docker info failed: {}",
            String::from_utf8_lossy(&info.stderr)
        );
        assert!(
            Path::new(BUSYBOX).exists(),
            "this test builds its images from a static {BUSYBOX}: apt-get install busybox-static"
        );
        Docker {
            config: tempfile::tempdir().expect("temp dir for DOCKER_CONFIG"),
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", self.config.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
    }

    /// `docker <args>` that must succeed; its stdout and stderr together.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "docker {args:?} failed: {text}");
        text
    }

    /// `docker login` to `registry` with `password`.
    pub fn login(&self, registry: &str, password: &str) -> Output {
        let mut child = self
            .command()
            .args(["login", "--username", "AWS", "--password-stdin", registry])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker login starts");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(password.as_bytes()).expect("password to docker login");
        }
        child.wait_with_output().expect("docker login finishes")
    }

    /// A scratch image whose one program is busybox and whose command prints `text` (kept in
    /// its own layer), tagged `name`.
    pub fn busybox_image(&self, name: &str, text: &str) -> LocalImage<'_> {
        self.busybox_image_with(
            name,
            ("hello.txt", &format!("{text}\n")),
            r#"CMD ["/bin/busybox","cat","/hello.txt"]"#,
        )
    }

    /// A scratch image with busybox whose command runs `script` with busybox's sh (as
    /// `/start`), tagged `name`.
    pub fn script_image(&self, name: &str, script: &str) -> LocalImage<'_> {
        self.busybox_image_with(name, ("start", script), r#"CMD ["/bin/busybox","sh","/start"]"#)
    }

    /// busybox as `/bin/busybox` plus one file, imported as `name` with the Dockerfile
    /// instruction `change`.
    fn busybox_image_with(&self, name: &str, (file, content): (&str, &str), change: &str) -> LocalImage<'_> {
        let dir = tempfile::tempdir().expect("temp dir for the image");
        std::fs::create_dir_all(dir.path().join("bin")).expect("image bin dir");
        std::fs::copy(BUSYBOX, dir.path().join("bin/busybox")).expect("copy busybox");
        std::fs::write(dir.path().join(file), content).expect("image file");
        let mut tar = Command::new("tar")
            .args(["-C"])
            .arg(dir.path())
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .expect("tar runs");
        let out = self
            .command()
            .args(["import", "--change", change, "-", name])
            .stdin(tar.stdout.take().expect("tar's output"))
            .output()
            .expect("docker import runs");
        assert!(
            tar.wait().expect("tar finishes").success(),
            "tar of the image files failed"
        );
        assert!(
            out.status.success(),
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        LocalImage {
            docker: self,
            names: vec![name.to_string()],
        }
    }

    /// Ids of the containers (running or not) carrying `label=value`.
    pub fn containers_labelled(&self, label: &str, value: &str) -> Vec<String> {
        let filter = format!("label={label}={value}");
        self.ok(&["ps", "-a", "-q", "--filter", &filter])
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

/// Image names a test made; removed (with `docker rmi -f`) when dropped.
pub struct LocalImage<'a> {
    docker: &'a Docker,
    pub names: Vec<String>,
}

impl LocalImage<'_> {
    /// Also tags the image `name` (removed with it).
    pub fn tag(&mut self, name: &str) {
        self.docker.ok(&["tag", &self.names[0], name]);
        self.names.push(name.to_string());
    }

    /// Notes another name the test gave this image (e.g. a pulled copy) for removal.
    pub fn also_remove(&mut self, name: &str) {
        self.names.push(name.to_string());
    }
}

impl Drop for LocalImage<'_> {
    fn drop(&mut self) {
        let mut args = vec!["rmi", "-f"];
        args.extend(self.names.iter().map(String::as_str));
        let _ = self.docker.run(&args);
    }
}

//! One replicate of a task: the app run in a workspace as a worker runs it, and its verdict.

use std::path::{Path, PathBuf};

use crate::{
    App, Checksum, Error, Exit, Limits, Outcome, Result, RunSpec, Sandbox, TaskContext, TaskResult,
};

/// A replicate's directories: `in/` (the dataset and input files; read-only for the app) and
/// `out/` (what the app writes). A worker keeps one per slot and reuses it: creating folders
/// for every task was, on this machine's disk, a tenth of a trivial task's cost.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Makes `root/in` and `root/out` if they are missing and empties them, so that nothing of
    /// a previous run is seen by the app or counts in the result.
    pub fn create(root: &Path) -> Result<Self> {
        let workspace = Self {
            root: root.to_path_buf(),
        };
        for dir in [workspace.input(), workspace.output()] {
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            empty(&dir)?;
        }
        Ok(workspace)
    }

    /// Empties `in/` and `out/`: the dataset and the output leave the disk once the run is
    /// read.
    pub fn clear(&self) -> Result<()> {
        for dir in [self.input(), self.output()] {
            if dir.exists() {
                empty(&dir)?;
            }
        }
        Ok(())
    }

    /// The workspace at `root`, as [`Workspace::create`] left it.
    pub fn at(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The input directory.
    pub fn input(&self) -> PathBuf {
        self.root.join("in")
    }

    /// The output directory.
    pub fn output(&self) -> PathBuf {
        self.root.join("out")
    }
}

/// Removes what `dir` holds, keeping `dir`.
fn empty(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(Error::io(&path))?;
        if kind.is_dir() {
            std::fs::remove_dir_all(&path).map_err(Error::io(&path))?;
        } else {
            std::fs::remove_file(&path).map_err(Error::io(&path))?;
        }
    }
    Ok(())
}

/// What a replicate gives the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The app finished and its output is a result: contribute its digest.
    Result(TaskResult),
    /// No result to contribute, and why.
    Failed(String),
}

/// A replicate's run and verdict.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The run.
    pub outcome: Outcome,
    /// The verdict.
    pub verdict: Verdict,
}

/// Runs `app` for the task `context` in `workspace` (its inputs already in place), with
/// `limits`, and reads the result. An `Err` is a problem of the host, not of the app.
pub fn execute(
    sandbox: &Sandbox,
    app: &App,
    context: &TaskContext,
    workspace: &Workspace,
    limits: Limits,
) -> Result<Execution> {
    let spec = RunSpec {
        args: context.args()?,
        env: context.env(),
        input_dir: workspace.input(),
        output_dir: workspace.output(),
        clock_start: context.deal_start,
        seed: context.seed(),
        limits,
    };
    let outcome = sandbox.run(app, &spec)?;
    let verdict = match &outcome.exit {
        Exit::Success => match TaskResult::read(&workspace.output()) {
            Ok(result) => Verdict::Result(result),
            Err(error) => Verdict::Failed(error.to_string()),
        },
        other => Verdict::Failed(format!("the app {other}")),
    };
    Ok(Execution { outcome, verdict })
}

/// Checks that `bytes` are the module whose checksum is `expected` (the app's on-chain
/// checksum), before anything compiles or runs them.
pub fn verify(bytes: &[u8], expected: Checksum) -> Result<()> {
    let actual = Checksum::of(bytes);
    if actual != expected {
        return Err(Error::ChecksumMismatch { expected, actual });
    }
    Ok(())
}

impl Sandbox {
    /// [`Sandbox::load`] after [`verify`]: a tampered module is refused before it is compiled.
    pub fn load_verified(&self, bytes: &[u8], expected: Checksum) -> Result<std::sync::Arc<App>> {
        if let Some(app) = self.cached(&expected) {
            return Ok(app);
        }
        verify(bytes, expected)?;
        self.load(bytes)
    }
}

//! Running a suite: proptest drives the generator and shrinks, each case runs on a fresh
//! simulator and a fresh kernel sandbox, and a failure is written out as a scenario file.
//!
//! - Case counts: each suite has a default (small enough for CI); `NETTWIN_PROPTEST_CASES`
//!   sets every suite's count instead.
//! - Seeds: random per run, or `NETTWIN_PROPTEST_SEED` (decimal or 0x-hex) to replay one.
//!   The seed is printed on failure and written into the counterexample's header.
//! - Regressions: proptest's failure seeds are kept in `tests/proptest-regressions/`
//!   (committed) and replayed before new cases.
//! - Counterexamples: the shrunk case is written to `proptest-failures/<suite>-<seed>.yaml`
//!   at the workspace root (gitignored; `NETTWIN_FAILURES_DIR` overrides), expectations
//!   taken from the kernel, so `nettwin --backend both check FILE` replays the
//!   disagreement.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nettwin_core::backend::Backend;
use nettwin_linux::LinuxBackend;
use nettwin_sim::SimBackend;
use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};

use crate::harness::{Case, Compared, run_case};

/// The environment variable that sets every suite's case count.
pub const CASES_ENV: &str = "NETTWIN_PROPTEST_CASES";
/// The environment variable that fixes the seed (to replay a failure).
pub const SEED_ENV: &str = "NETTWIN_PROPTEST_SEED";
/// The environment variable that moves the counterexamples' folder.
pub const FAILURES_ENV: &str = "NETTWIN_FAILURES_DIR";

/// How long shrinking may take before the smallest failing case so far is reported.
const SHRINK_TIME: Duration = Duration::from_secs(300);

/// A suite's settings.
pub struct Suite {
    /// Its name (`topology`, `firewall`, ...): names the regression and failure files.
    pub name: &'static str,
    /// Cases when `NETTWIN_PROPTEST_CASES` is not set.
    pub default_cases: u32,
    /// Where proptest keeps this suite's failure seeds, relative to the `tests` crate.
    pub regressions: &'static str,
}

/// The case count: `NETTWIN_PROPTEST_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    match std::env::var(CASES_ENV) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{CASES_ENV}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// The seed: `NETTWIN_PROPTEST_SEED`, else a fresh one.
pub fn seed() -> u64 {
    if let Ok(v) = std::env::var(SEED_ENV) {
        let v = v.trim();
        let parsed = match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        };
        return parsed.unwrap_or_else(|_| panic!("{SEED_ENV}={v:?} is not a number"));
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The folder counterexamples are written to.
pub fn failures_dir() -> PathBuf {
    match std::env::var_os(FAILURES_ENV) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("proptest-failures"),
    }
}

/// Writes a line to stderr past the test harness's capture (suite statistics must show).
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A suite-specific property of a compared case, beyond agreement (the teardown suite's
/// "the state returns to where it started"). `Err` says what does not hold.
pub type Property = fn(&Case, &Compared) -> Result<(), String>;

/// How a suite's cases are checked.
pub struct Check {
    /// Builds the simulator for one case (the fault self-test passes a wrong one).
    pub sim: fn() -> SimBackend,
    /// The extra property, if any.
    pub property: Option<Property>,
}

impl Default for Check {
    fn default() -> Self {
        Check { sim: SimBackend::new, property: None }
    }
}

/// A failing case: its shrunk form, the comparison and where it was written.
#[derive(Debug)]
pub struct Failure {
    /// The shrunk case.
    pub case: Case,
    /// Why it fails.
    pub reason: String,
    /// The counterexample file, if it could be written.
    pub file: Option<PathBuf>,
    /// The seed of the run.
    pub seed: u64,
}

/// What a suite run did.
#[derive(Debug)]
pub struct Outcome {
    /// Cases run (generated ones; shrinking runs not counted).
    pub cases: u32,
    /// Wall time of the whole run, shrinking included.
    pub elapsed: Duration,
    /// The failure, if any.
    pub failure: Option<Failure>,
}

/// Checks one case: fresh backends, run, compare, the extra property.
pub fn check_case(case: &Case, check: &Check) -> Result<Compared, String> {
    let mut sim = (check.sim)();
    let mut linux = LinuxBackend::new().map_err(|e| format!("the linux backend: {e}"))?;
    let compared = run_case(case, &mut sim as &mut dyn Backend, &mut linux as &mut dyn Backend)
        .map_err(|e| e.to_string())?;
    drop(linux);
    if !compared.agree() {
        return Err(format!("sim and linux disagree:\n{}", compared.report()));
    }
    if let Some(property) = check.property {
        property(case, &compared)?;
    }
    Ok(compared)
}

/// Runs a suite and returns what happened (the suite tests assert on it; the fault
/// self-test asserts that it failed).
pub fn run_suite<S>(suite: &Suite, strategy: S, check: &Check) -> Outcome
where
    S: Strategy<Value = Case>,
{
    let cases = cases(suite.default_cases);
    let seed = seed();
    let config = Config {
        cases,
        max_shrink_time: SHRINK_TIME.as_millis() as u32,
        max_shrink_iters: 4096,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(suite.regressions))),
        source_file: Some(suite.regressions),
        rng_seed: RngSeed::Fixed(seed),
        // A case is one short-lived sandbox; no forking, no timeouts.
        ..Config::default()
    };
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    let counter = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |case| {
        counter.set(counter.get() + 1);
        check_case(&case, check).map(|_| ()).map_err(TestCaseError::fail)
    });
    let elapsed = started.elapsed();
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, case)) => {
            let file = write_failure(suite, seed, &case, check, &reason);
            Some(Failure { case, reason: reason.to_string(), file, seed })
        }
        Err(TestError::Abort(why)) => Some(Failure {
            case: Case::default(),
            reason: format!("proptest aborted: {why}"),
            file: None,
            seed,
        }),
    };
    let runs = counter.get();
    note(&format!(
        "suite {}: {} cases ({runs} runs with shrinking) in {:.1} s, {:.2} runs/s, seed {seed:#x}",
        suite.name,
        cases,
        elapsed.as_secs_f64(),
        f64::from(runs) / elapsed.as_secs_f64().max(1e-9),
    ));
    Outcome { cases, elapsed, failure }
}

/// Re-runs the shrunk case to write its scenario (expectations from the kernel); returns
/// the file.
fn write_failure(
    suite: &Suite,
    seed: u64,
    case: &Case,
    check: &Check,
    reason: &proptest::test_runner::Reason,
) -> Option<PathBuf> {
    let mut sim = (check.sim)();
    let mut linux = LinuxBackend::new().ok()?;
    let compared =
        run_case(case, &mut sim as &mut dyn Backend, &mut linux as &mut dyn Backend).ok()?;
    drop(linux);
    let dir = failures_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let file = dir.join(format!("{}-{seed:016x}.yaml", suite.name));
    let mut draft = compared.draft.clone();
    draft.name = format!("{}-{seed:016x}", suite.name);
    draft.description = format!(
        "Counterexample of the {} suite (seed {seed:#x}); the expectations are what the kernel did.",
        suite.name
    );
    draft.header = vec![
        format!("The shrunk counterexample of the differential suite `{}`.", suite.name),
        format!(
            "Replay the run: {}={seed:#x} cargo test -p nettwin-tests --test {}",
            SEED_ENV, suite.name
        ),
        format!("Replay the case: nettwin --backend both check {}", file.display()),
        "Why it failed:".to_owned(),
    ];
    draft.header.extend(reason.to_string().lines().map(|l| format!("  {l}")));
    std::fs::write(&file, draft.to_yaml()).ok()?;
    Some(file)
}

/// Runs `f` on a thread with a large stack (the generators' value trees are deep, and an
/// unoptimized build overflows the test harness's 2 MiB threads), passing its panic on.
pub fn with_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::Builder::new()
        .name("suite".into())
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start the suite's thread: {e}"));
    match handle.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A kernel suite's whole test: without the kernel it prints a visible skip (and fails
/// under `NETTWIN_REQUIRE_LINUX=1`); else it runs the suite on a big stack and panics with
/// the shrunk counterexample if the backends disagree.
pub fn kernel_suite<S>(suite: Suite, cases: fn() -> S, check: Check)
where
    S: Strategy<Value = Case> + 'static,
{
    if !nettwin_linux::testing::require_linux() {
        return;
    }
    with_big_stack(move || assert_suite(&suite, cases(), &check));
}

/// Runs a suite and panics with the seed, the shrunk case and the counterexample file if it
/// fails: the body of each suite test.
pub fn assert_suite<S>(suite: &Suite, strategy: S, check: &Check)
where
    S: Strategy<Value = Case>,
{
    let outcome = run_suite(suite, strategy, check);
    if let Some(f) = outcome.failure {
        let file =
            f.file.map_or_else(|| "(could not be written)".to_owned(), |p| p.display().to_string());
        panic!(
            "suite {} failed (seed {:#x}; replay with {SEED_ENV}={:#x})\nshrunk case: {:?}\n{}\ncounterexample: {file}\nreplay it: nettwin --backend both check {file}",
            suite.name, f.seed, f.seed, f.case, f.reason
        );
    }
}

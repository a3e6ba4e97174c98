//! Counting results per test tier, and the closing `N passed, N failed` lines.

use std::fmt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    pub fn check(ok: bool) -> Self {
        if ok {
            Self {
                passed: 1,
                ..Self::default()
            }
        } else {
            Self {
                failed: 1,
                ..Self::default()
            }
        }
    }

    /// Sums every `test result: ... N passed; M failed; K ignored` line that cargo's test
    /// harness (or wasm-bindgen-test-runner) printed.
    pub fn from_test_output(lines: &[String]) -> Self {
        let mut total = Self::default();
        for line in lines {
            let Some(rest) = line.trim().strip_prefix("test result: ") else {
                continue;
            };
            for (number, label) in rest.split(['.', ';']).filter_map(count_and_label) {
                match label {
                    "passed" => total.passed += number,
                    "failed" => total.failed += number,
                    "ignored" => total.skipped += number,
                    _ => {}
                }
            }
        }
        total
    }
}

impl Counts {
    /// Reads pytest's closing summary (`3 passed, 1 failed, 2 skipped in 0.8s`); errors count
    /// as failures.
    pub fn from_pytest_output(lines: &[String]) -> Self {
        let mut total = Self::default();
        let Some(summary) = lines.iter().rev().find(|line| {
            line.contains(" in ")
                && (line.contains(" passed") || line.contains(" failed") || line.contains(" error"))
        }) else {
            return total;
        };
        let summary = summary.trim().trim_matches('=').trim();
        let counts = summary.split(" in ").next().unwrap_or_default();
        for (number, label) in counts.split(", ").filter_map(count_and_label) {
            match label {
                "passed" => total.passed += number,
                "failed" | "error" | "errors" => total.failed += number,
                "skipped" => total.skipped += number,
                _ => {}
            }
        }
        total
    }
}

/// `"12 passed"` → `(12, "passed")`.
fn count_and_label(part: &str) -> Option<(u64, &str)> {
    let mut words = part.split_whitespace();
    let number = words.next()?.parse().ok()?;
    Some((number, words.next()?))
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn sums_every_result_line() {
        let output = lines(
            "running 3 tests\n\
             test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
             test result: FAILED. 4 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out\n",
        );
        assert_eq!(
            Counts::from_test_output(&output),
            Counts {
                passed: 7,
                failed: 2,
                skipped: 1
            }
        );
    }

    #[test]
    fn reads_pytest_summaries() {
        assert_eq!(
            Counts::from_pytest_output(&lines("....\n4 passed in 0.80s")),
            Counts {
                passed: 4,
                failed: 0,
                skipped: 0
            }
        );
        assert_eq!(
            Counts::from_pytest_output(&lines(
                "F.s\n===== 1 failed, 1 passed, 1 skipped, 2 errors in 1.20s ====="
            )),
            Counts {
                passed: 1,
                failed: 3,
                skipped: 1
            }
        );
        assert_eq!(
            Counts::from_pytest_output(&lines("no tests ran in 0.01s")),
            Counts::default()
        );
    }

    #[test]
    fn output_without_results_counts_nothing() {
        assert_eq!(
            Counts::from_test_output(&lines("error[E0425]: cannot find value")),
            Counts::default()
        );
    }

    #[test]
    fn displays_the_closing_line_format() {
        let counts = Counts {
            passed: 5,
            failed: 1,
            skipped: 0,
        };
        assert_eq!(counts.to_string(), "5 passed, 1 failed");
        let with_skips = Counts {
            skipped: 2,
            ..counts
        };
        assert_eq!(with_skips.to_string(), "5 passed, 1 failed, 2 skipped");
    }
}

//! `cargo xtask test`: every tier, in order, each reporting `N passed, N failed`.
//!
//! A tier that cannot even start (a build error, a missing tool) counts as one failure, so the
//! summary can never read green when something did not run.

mod bundle;
mod component;
mod conformance;
pub mod e2e;
mod lint;
mod scenario;
mod unit;

use std::process::ExitCode;

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::summary::Counts;
use crate::ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Lint,
    Unit,
    Scenario,
    Conformance,
    Component,
    E2e,
    Bundle,
}

impl Tier {
    pub const ALL: [Tier; 7] = [
        Tier::Lint,
        Tier::Unit,
        Tier::Scenario,
        Tier::Conformance,
        Tier::Component,
        Tier::E2e,
        Tier::Bundle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Lint => "lint",
            Tier::Unit => "unit",
            Tier::Scenario => "scenario",
            Tier::Conformance => "conformance",
            Tier::Component => "component",
            Tier::E2e => "e2e",
            Tier::Bundle => "bundle",
        }
    }

    fn run(self, workspace: &Workspace) -> Result<Counts, XtaskError> {
        match self {
            Tier::Lint => lint::run(workspace),
            Tier::Unit => unit::run(workspace),
            Tier::Scenario => scenario::run(workspace),
            Tier::Conformance => conformance::run(workspace),
            Tier::Component => component::run(workspace),
            Tier::E2e => e2e::run(workspace),
            Tier::Bundle => bundle::run(workspace),
        }
    }
}

/// `--tier NAME` (repeatable); none means all tiers.
pub fn parse_tiers(args: &[&str]) -> Option<Vec<Tier>> {
    let mut tiers = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if *arg != "--tier" {
            return None;
        }
        let name = args.next()?;
        tiers.push(*Tier::ALL.iter().find(|tier| tier.name() == *name)?);
    }
    if tiers.is_empty() {
        tiers = Tier::ALL.to_vec();
    }
    Some(tiers)
}

pub fn run(workspace: &Workspace, tiers: &[Tier]) -> Result<ExitCode, XtaskError> {
    // The app embeds ui/dist at compile time, so even lints of the shell need the UI built.
    let ui_built = ui::build(workspace);
    let mut results = Vec::new();
    for tier in tiers {
        eprintln!("\n==== tier: {}", tier.name());
        let counts = match &ui_built {
            Err(error) => {
                eprintln!(
                    "tier {} not run: the UI did not build: {error}",
                    tier.name()
                );
                Counts::check(false)
            }
            Ok(()) => tier.run(workspace).unwrap_or_else(|error| {
                eprintln!("tier {} failed to run: {error}", tier.name());
                Counts::check(false)
            }),
        };
        results.push((*tier, counts));
    }

    let mut total = Counts::default();
    println!();
    for (tier, counts) in &results {
        println!("{}: {counts}", tier.name());
        total.add(*counts);
    }
    println!("total: {total}");
    let all_ran = results
        .iter()
        .all(|(_, counts)| counts.passed + counts.failed > 0);
    Ok(if total.failed == 0 && all_ran {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tier_flag_means_every_tier() {
        assert_eq!(parse_tiers(&[]), Some(Tier::ALL.to_vec()));
    }

    #[test]
    fn selects_named_tiers_in_the_given_order() {
        assert_eq!(
            parse_tiers(&["--tier", "e2e", "--tier", "lint"]),
            Some(vec![Tier::E2e, Tier::Lint])
        );
    }

    #[test]
    fn rejects_unknown_tiers_and_stray_arguments() {
        assert_eq!(parse_tiers(&["--tier", "everything"]), None);
        assert_eq!(parse_tiers(&["--tier"]), None);
        assert_eq!(parse_tiers(&["lint"]), None);
    }
}

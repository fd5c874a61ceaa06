//! The report every benchmark feeds: one [`Row`] per figure, each with the
//! baseline measured in the same run, the ratio, and the goal;
//! printed as a table for people or as JSON for machines.

use serde::Serialize;

/// What a figure must reach (issue 7's table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// No goal: the figure is there to explain the others.
    None,
    /// The ratio to the baseline must be at least this.
    RatioAtLeast(f64),
    /// The figure itself must be at least this.
    AtLeast(f64),
    /// The figure itself must be at most this.
    AtMost(f64),
}

impl Goal {
    /// Whether `row` meets the goal; `None` when there is no goal.
    fn met(self, value: f64, ratio: Option<f64>) -> Option<bool> {
        match self {
            Goal::None => None,
            Goal::RatioAtLeast(goal) => ratio.map(|r| r >= goal),
            Goal::AtLeast(goal) => Some(value >= goal),
            Goal::AtMost(goal) => Some(value <= goal),
        }
    }

    fn text(self, unit: &str) -> String {
        match self {
            Goal::None => String::new(),
            Goal::RatioAtLeast(goal) => format!("ratio ≥ {goal}"),
            Goal::AtLeast(goal) => format!("≥ {} {unit}", figure(goal)),
            Goal::AtMost(goal) => format!("≤ {} {unit}", figure(goal)),
        }
    }
}

/// One measured figure beside its baseline.
#[derive(Debug, Clone)]
pub struct Row {
    /// The benchmark (`dfsio-write`, `nn-ops`, ...).
    pub bench: String,
    /// What was measured within it (`create 16 threads`, `write r=3`).
    pub measure: String,
    pub value: f64,
    pub unit: &'static str,
    /// The baseline's name and figure, in the same unit.
    pub baseline: Option<(String, f64)>,
    pub goal: Goal,
}

impl Row {
    pub fn new(bench: &str, measure: impl Into<String>, value: f64, unit: &'static str) -> Row {
        Row {
            bench: bench.to_string(),
            measure: measure.into(),
            value,
            unit,
            baseline: None,
            goal: Goal::None,
        }
    }

    pub fn baseline(mut self, name: impl Into<String>, value: f64) -> Row {
        self.baseline = Some((name.into(), value));
        self
    }

    pub fn goal(mut self, goal: Goal) -> Row {
        self.goal = goal;
        self
    }

    /// Cairn's figure over the baseline's (both "more is better").
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .map(|(_, base)| self.value / base.max(f64::MIN_POSITIVE))
    }

    pub fn met(&self) -> Option<bool> {
        self.goal.met(self.value, self.ratio())
    }
}

/// The whole run: its rows, the machine's load around them (the machine
/// may be shared; ratios within one run are what count) and the build
/// that ran them.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub load_before: String,
    pub load_after: String,
}

/// Which build of `cairn` measured: a debug build's absolute figures (and
/// some ratios: the baselines are partly the benchmark's own code) are not
/// the ones a release build, which users run, gives.
pub const BUILD: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

/// Said when a debug build starts measuring, so that nobody quotes its
/// figures as Cairn's.
pub const DEBUG_BUILD_WARNING: &str = "this cairn is a debug build: its figures are below a release build's \
     (cargo build --release; target/release/cairn bench)";

#[derive(Serialize)]
struct JsonRow<'a> {
    bench: &'a str,
    measure: &'a str,
    value: f64,
    unit: &'a str,
    baseline: Option<&'a str>,
    baseline_value: Option<f64>,
    ratio: Option<f64>,
    goal: String,
    met: Option<bool>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    build: &'a str,
    load_before: &'a str,
    load_after: &'a str,
    rows: Vec<JsonRow<'a>>,
}

impl Report {
    pub fn new() -> Report {
        Report {
            load_before: load_average(),
            ..Report::default()
        }
    }

    pub fn push(&mut self, row: Row) {
        eprintln!(
            "  {} {}: {} {}",
            row.bench,
            row.measure,
            figure(row.value),
            row.unit
        );
        self.rows.push(row);
    }

    pub fn finish(&mut self) {
        self.load_after = load_average();
    }

    pub fn to_json(&self) -> anyhow::Result<String> {
        let rows = self
            .rows
            .iter()
            .map(|r| JsonRow {
                bench: &r.bench,
                measure: &r.measure,
                value: r.value,
                unit: r.unit,
                baseline: r.baseline.as_ref().map(|(n, _)| n.as_str()),
                baseline_value: r.baseline.as_ref().map(|(_, v)| *v),
                ratio: r.ratio(),
                goal: r.goal.text(r.unit),
                met: r.met(),
            })
            .collect();
        Ok(serde_json::to_string_pretty(&JsonReport {
            build: BUILD,
            load_before: &self.load_before,
            load_after: &self.load_after,
            rows,
        })?)
    }

    /// The table people read: one line per row, the ratio beside the
    /// figures and the goal, "short" where it is missed.
    pub fn to_table(&self) -> String {
        let header = [
            "benchmark",
            "measure",
            "Cairn",
            "unit",
            "baseline",
            "baseline",
            "ratio",
            "goal",
            "",
        ];
        let mut lines: Vec<[String; 9]> = vec![header.map(str::to_string)];
        for r in &self.rows {
            let (base_name, base_value) = match &r.baseline {
                Some((name, value)) => (name.clone(), figure(*value)),
                None => (String::new(), String::new()),
            };
            lines.push([
                r.bench.clone(),
                r.measure.clone(),
                figure(r.value),
                r.unit.to_string(),
                base_name,
                base_value,
                r.ratio().map(|x| format!("{x:.2}")).unwrap_or_default(),
                r.goal.text(r.unit),
                match r.met() {
                    Some(true) => "met".to_string(),
                    Some(false) => "short".to_string(),
                    None => String::new(),
                },
            ]);
        }
        let mut widths = [0usize; 9];
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!("build: {BUILD}\n");
        out.push_str(&format!("load average before: {}\n", self.load_before));
        for line in &lines {
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(cell.chars().count());
                // Figures right-aligned, names left-aligned.
                if matches!(i, 2 | 5 | 6) {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
                text.push_str("  ");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out.push_str(&format!("load average after: {}\n", self.load_after));
        out
    }
}

/// A figure with three significant digits at most, thousands grouped:
/// `1,234,567`, `812`, `3.14`, `0.052`.
pub fn figure(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.abs() >= 1000.0 {
        let whole = x.round() as i128;
        let digits = whole.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if whole < 0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// `/proc/loadavg`'s three averages, or "unknown" off Linux.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_readable() {
        assert_eq!(figure(1_234_567.4), "1,234,567");
        assert_eq!(figure(812.3), "812");
        assert_eq!(figure(4.256), "4.26");
        assert_eq!(figure(0.0521), "0.052");
    }

    #[test]
    fn goals_judge_the_right_figure() {
        let row = Row::new("x", "y", 50.0, "MB/s").baseline("z", 100.0);
        assert_eq!(row.ratio(), Some(0.5));
        assert_eq!(row.clone().goal(Goal::RatioAtLeast(0.6)).met(), Some(false));
        assert_eq!(row.clone().goal(Goal::AtLeast(40.0)).met(), Some(true));
        assert_eq!(row.clone().goal(Goal::AtMost(40.0)).met(), Some(false));
        assert_eq!(row.met(), None);
    }

    #[test]
    fn table_has_a_line_per_row() {
        let mut report = Report::new();
        report.push(
            Row::new("editlog", "creates per fsync", 12.0, "creates").goal(Goal::AtLeast(10.0)),
        );
        report.finish();
        let table = report.to_table();
        assert!(table.contains("editlog"), "{table}");
        assert!(table.contains("met"), "{table}");
        assert!(table.starts_with(&format!("build: {BUILD}\n")), "{table}");
        let json = report.to_json().unwrap();
        assert!(json.contains("\"met\": true"), "{json}");
        assert!(json.contains(&format!("\"build\": \"{BUILD}\"")), "{json}");
    }
}

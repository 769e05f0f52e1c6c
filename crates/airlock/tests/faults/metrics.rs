//! `/metrics` read as numbers: each series with its labels, summed over
//! the labels a scenario does not name.

/// `/metrics` as numbers.
pub struct Metrics(Vec<Series>);

/// One line of `/metrics`: a name, its labels and its value.
struct Series {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut series = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match key.split_once('{') {
                Some((name, rest)) => (name, labels_of(rest.trim_end_matches('}'))),
                None => (key, Vec::new()),
            };
            series.push(Series {
                name: name.to_string(),
                labels,
                value,
            });
        }
        Metrics(series)
    }

    /// The sum of `name`'s series whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|series| {
                series.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| series.labels.iter().any(|(hk, hv)| hk == k && hv == v))
            })
            .map(|series| series.value)
            .sum()
    }

    /// Calls made to a provider (each attempt, whatever came of it).
    pub fn calls(&self, provider: &str) -> f64 {
        self.sum("airlock_upstream_requests_total", &[("provider", provider)])
    }

    /// Retries of a provider's calls.
    pub fn retries(&self, provider: &str) -> f64 {
        self.sum("airlock_upstream_retries_total", &[("provider", provider)])
    }

    pub fn fallbacks(&self, trigger: &str) -> f64 {
        self.sum("airlock_fallbacks_total", &[("trigger", trigger)])
    }

    pub fn all_fallbacks(&self) -> f64 {
        self.sum("airlock_fallbacks_total", &[])
    }

    pub fn circuit_open(&self, provider: &str) -> f64 {
        self.sum("airlock_circuit_open", &[("provider", provider)])
    }

    pub fn circuit_opened(&self, provider: &str) -> f64 {
        self.sum("airlock_circuit_opened_total", &[("provider", provider)])
    }
}

/// `a="b",c="d"` as pairs (values here hold no quotes or commas).
fn labels_of(text: &str) -> Vec<(String, String)> {
    text.split("\",")
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.trim().to_string(), value.trim_matches('"').to_string()))
        })
        .collect()
}

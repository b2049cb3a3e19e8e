//! What the command line prints: progress bars, a readable rendering of Kakao answers,
//! the related artists and the datamart export.

use std::io::Write;
use std::time::Duration;

use encore_kakao::response::{Button, ButtonAction, Carousel, Component, ListCard};
use encore_kakao::SkillResponse;
use encore_similarity_service::{Phase, Progress};
use encore_store::{ArtistStore, RelatedStore};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::stack::Stack;

/// A plain-text rendering of an answer, for `encore chat --text`.
pub fn readable(response: &SkillResponse) -> String {
    let mut out = String::new();
    if response.use_callback {
        out.push_str("(useCallback: the answer follows through Kakao's callback)\n");
    }
    for component in response
        .template
        .as_ref()
        .map(|t| t.outputs.as_slice())
        .unwrap_or_default()
    {
        match component {
            Component::SimpleText(text) => {
                out.push_str(&text.text);
                out.push('\n');
            }
            Component::ListCard(card) => list_card(&mut out, card),
            Component::Carousel(Carousel::ListCard(cards)) => {
                cards.iter().for_each(|card| list_card(&mut out, card))
            }
            Component::Carousel(Carousel::BasicCard(cards)) => {
                for card in cards {
                    out.push_str(&format!("▶ {}\n", card.title.as_deref().unwrap_or("")));
                }
            }
            Component::BasicCard(card) => {
                out.push_str(&format!("▶ {}\n", card.title.as_deref().unwrap_or("")))
            }
        }
    }
    let replies: Vec<&str> = response
        .template
        .as_ref()
        .map(|t| t.quick_replies.iter().map(|q| q.label.as_str()).collect())
        .unwrap_or_default();
    if !replies.is_empty() {
        out.push_str(&format!("quick replies: [{}]\n", replies.join("] [")));
    }
    out
}

fn list_card(out: &mut String, card: &ListCard) {
    out.push_str(&format!("▶ {}\n", card.header.title));
    for (i, item) in card.items.iter().enumerate() {
        let link = item
            .link
            .as_ref()
            .and_then(|l| l.web.as_deref())
            .unwrap_or("");
        match &item.description {
            Some(description) => out.push_str(&format!(
                "  {}. {} — {}  {}\n",
                i + 1,
                item.title,
                description,
                link
            )),
            None => out.push_str(&format!("  {}. {}  {}\n", i + 1, item.title, link)),
        }
    }
    for button in &card.buttons {
        out.push_str(&format!("  [{}] {}\n", button.label, button_target(button)));
    }
}

fn button_target(button: &Button) -> &str {
    match &button.action {
        ButtonAction::WebLink { web_link_url } => web_link_url,
        ButtonAction::Message { message_text } => message_text,
        ButtonAction::Block { block_id, .. } => block_id,
    }
}

/// `encore related NAME`.
pub async fn print_related(stack: &Stack, name: &str) -> anyhow::Result<()> {
    let normalized = encore_domain::NormalizedName::of(name);
    let Some(artist) = stack.store.find_artist(&normalized).await? else {
        anyhow::bail!(
            "no artist called {name:?} is stored yet (ask for it in the chat, or run a backfill)"
        );
    };
    let related = stack
        .store
        .related(&artist.id, encore_similarity::DEFAULT_K as u32)
        .await?;
    println!("{} ({})", artist.name, artist.id);
    if related.is_empty() {
        println!("  no related artists yet: run `encore similarity run`");
    }
    for (row, other) in related {
        println!(
            "  {:>2}. {:<40} distance {:.4}  (snapshot {})",
            row.rank, other.name, row.distance, row.snapshot
        );
    }
    Ok(())
}

/// `encore export related --format csv`: every datamart row.
pub async fn export_related_csv(stack: &Stack, out: impl Write) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "artist_id",
        "artist_name",
        "rank",
        "related_id",
        "related_name",
        "distance",
    ])?;
    for row in stack.store.export_related().await? {
        writer.write_record([
            row.artist_id.into_string(),
            row.artist_name,
            row.rank.to_string(),
            row.related_id.into_string(),
            row.related_name,
            row.distance.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// True when `err` is a write to a closed pipe (`encore export related | head`): the
/// reader has all it wanted, so the command ends quietly and successfully, as Unix tools do.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause
                .downcast_ref::<csv::Error>()
                .and_then(|csv| match csv.kind() {
                    csv::ErrorKind::Io(io) => Some(io),
                    _ => None,
                })
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Progress bars for the similarity job's phases.
pub struct ProgressBars {
    bars: MultiProgress,
    phases: std::sync::Mutex<Vec<(Phase, ProgressBar)>>,
}

impl Default for ProgressBars {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressBars {
    /// Bars drawn on standard error.
    pub fn new() -> Self {
        Self {
            bars: MultiProgress::new(),
            phases: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn bar(&self, phase: Phase) -> Option<ProgressBar> {
        let phases = self.phases.lock().ok()?;
        phases
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, bar)| bar.clone())
    }

    /// Clears the bars before the summary is printed.
    pub fn finish(&self) {
        let _ = self.bars.clear();
    }
}

impl Progress for ProgressBars {
    fn started(&self, phase: Phase, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix:>10} {spinner} {pos} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let bar = self.bars.add(bar.with_prefix(phase.name()));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut phases) = self.phases.lock() {
            phases.push((phase, bar));
        }
    }

    fn message(&self, phase: Phase, message: &str) {
        if let Some(bar) = self.bar(phase) {
            bar.set_message(message.to_owned());
        }
    }

    fn advanced(&self, phase: Phase, done: u64) {
        if let Some(bar) = self.bar(phase) {
            bar.set_position(done);
        }
    }

    fn finished(&self, phase: Phase, count: u64, elapsed: Duration) {
        if let Some(bar) = self.bar(phase) {
            bar.set_position(count);
            bar.finish_with_message(format!("done in {:.2}s", elapsed.as_secs_f64()));
        }
    }
}

//! The campaign page's pictures, drawn on the server as SVG (no chart library, no script):
//! sends and deliveries per minute as two lines, and the funnel queued → sent → delivered →
//! read → replied as bars. Written by hand because the two pictures are a few dozen lines of
//! coordinates; a plotting crate would bring its own fonts and styles for nothing more. Pure.

use maud::{Markup, html};
use wacast_shared::queue::{Counters, MinuteCount};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;

/// Sends (solid) and deliveries (dashed) per minute, oldest minute on the left, with the
/// counts in a table for screen readers and for reading exact values.
pub(crate) fn per_minute(minutes: &[MinuteCount]) -> Markup {
    let peak = minutes
        .iter()
        .map(|m| m.sent.max(m.delivered))
        .max()
        .unwrap_or(0)
        .max(1);
    let n = minutes.len().max(2) - 1;
    let x = |i: usize| LEFT + (WIDTH - LEFT - 8.0) * i as f64 / n as f64;
    let y = |v: u64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v as f64 / peak as f64);
    let line = |value: fn(&MinuteCount) -> u64| {
        minutes
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{:.1},{:.1}", x(i), y(value(m))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let label = |m: &MinuteCount| m.minute.format("%H:%M UTC").to_string();
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label="Messages sent and delivered per minute" {
            line.axis x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH - 8.0) y2=(HEIGHT - BOTTOM) {}
            line.axis x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(HEIGHT - BOTTOM) {}
            text x=(LEFT - 4.0) y=(TOP + 8.0) text-anchor="end" { (peak) }
            text x=(LEFT - 4.0) y=(HEIGHT - BOTTOM) text-anchor="end" { "0" }
            @if let (Some(first), Some(last)) = (minutes.first(), minutes.last()) {
                text x=(LEFT) y=(HEIGHT - 6.0) { (label(first)) }
                text x=(WIDTH - 8.0) y=(HEIGHT - 6.0) text-anchor="end" { (label(last)) }
            }
            polyline.sends points=(line(|m| m.sent)) {}
            polyline.deliveries points=(line(|m| m.delivered)) {}
        }
        p.muted { "Solid: sent per minute. Dashed: delivered per minute. Last " (minutes.len()) " minutes." }
        details {
            summary { "Per minute, as numbers" }
            table {
                thead { tr { th scope="col" { "Minute" } th.num scope="col" { "Sent" } th.num scope="col" { "Delivered" } } }
                tbody {
                    @for m in minutes.iter().rev().filter(|m| m.sent + m.delivered > 0) {
                        tr { td { (label(m)) } td.num { (m.sent) } td.num { (m.delivered) } }
                    }
                }
            }
        }
    }
}

/// The funnel: each stage's count as a bar scaled to the campaign's total, with its share of
/// the messages sent.
pub(crate) fn funnel(c: &Counters) -> Markup {
    let stages = [
        ("queued", c.total, None),
        ("sent", c.sent, None),
        ("delivered", c.delivered, Some(c.sent)),
        ("read", c.read, Some(c.sent)),
        ("replied", c.replied, Some(c.sent)),
    ];
    let full = c.total.max(1) as f64;
    let bar_width = WIDTH - 260.0;
    let row_height = 26.0;
    let height = row_height * stages.len() as f64 + 4.0;
    html! {
        svg.funnel viewBox=(format!("0 0 {WIDTH} {height}")) role="img"
            aria-label=(format!("Funnel: queued {}, sent {}, delivered {}, read {}, replied {}",
                c.total, c.sent, c.delivered, c.read, c.replied)) {
            @for (i, (name, n, of)) in stages.iter().enumerate() {
                @let top = i as f64 * row_height + 2.0;
                text x="0" y=(top + 16.0) { (name) }
                rect x="90" y=(top) height=(row_height - 6.0)
                    width=(format!("{:.1}", (bar_width * *n as f64 / full).max(1.0))) {}
                text x=(100.0 + bar_width) y=(top + 16.0) {
                    (n)
                    @if let Some(of) = of {
                        " (" (crate::cmd::campaign_view::share_text(*n, *of)) " of sent)"
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_scales_to_the_busiest_minute() {
        let at = |m: u32| format!("2026-05-01T07:{m:02}:00Z").parse().unwrap();
        let minutes = [
            MinuteCount {
                minute: at(0),
                sent: 0,
                delivered: 0,
            },
            MinuteCount {
                minute: at(1),
                sent: 60,
                delivered: 30,
            },
        ];
        let svg = per_minute(&minutes).into_string();
        // The busiest minute reaches the top of the plot, an empty one stays on the axis.
        assert!(
            svg.contains(&format!("{:.1},{:.1}", WIDTH - 8.0, TOP)),
            "{svg}"
        );
        assert!(
            svg.contains(&format!("{LEFT:.1},{:.1}", HEIGHT - BOTTOM)),
            "{svg}"
        );
        assert!(svg.contains(">60<"), "{svg}");
    }
}

//! The dashboard's HTML: server-rendered from `gastown status`'s [`TownStatus`], every text
//! escaped, plus one small script that reads the event stream (`/events`), appends it to the
//! activity log and swaps in a fresh `/status` when the town changed — no reload, no build step.

use gastown_town::status::TownStatus;
use std::fmt::Write;

/// Text safe inside HTML elements and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }
header { background: #2b2b2b; color: #eee; padding: 8px 16px; display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; padding: 12px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 15px; margin: 4px 0 8px; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
.high, .critical { color: #a00; font-weight: bold; } .medium { color: #a60; } .low { color: #666; }
.bar { display: inline-block; width: 160px; height: 10px; background: #eee; border-radius: 5px; vertical-align: middle; }
.bar > span { display: block; height: 100%; background: #3a7; border-radius: 5px; }
#log { font: 12px/1.3 monospace; max-height: 320px; overflow-y: auto; white-space: pre-wrap; }
.muted { color: #888; }
#at { margin: 0 12px; font-size: 12px; }
"#;

/// The script: the live log and the status refresh. The token (when the dashboard needs one)
/// comes from the page's own URL and goes with every request; an ack carries the run's
/// same-origin token (the page's `gastown-csrf` meta) as the `x-gastown-csrf` header.
const SCRIPT: &str = r#"
(function () {
  const token = new URLSearchParams(location.search).get('token');
  const q = token ? '?token=' + encodeURIComponent(token) : '';
  const log = document.getElementById('log');
  let refreshes = 0, timer = null;
  // Links and forms carry the token too (the server asks for it on every request).
  function withToken(root) {
    if (!q) return;
    root.querySelectorAll('a.peek').forEach(function (a) { a.href = a.getAttribute('href') + q; });
    root.querySelectorAll('form.ack').forEach(function (f) { f.action = f.getAttribute('action') + q; });
  }
  withToken(document);
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const r = await fetch('/status' + q);
      if (r.ok) {
        const status = document.getElementById('status');
        status.innerHTML = await r.text();
        withToken(status);
        document.body.dataset.refreshed = String(++refreshes);
      }
    }, 150);
  }
  const source = new EventSource('/events' + q);
  source.onopen = function () { document.body.dataset.live = 'yes'; };
  source.onerror = function () { document.body.dataset.live = 'no'; };
  source.onmessage = function (m) {
    const e = JSON.parse(m.data);
    const line = document.createElement('div');
    line.textContent = (e.at || '').slice(11, 19) + '  ' + e.kind + '  ' + e.text;
    line.className = 'event';
    line.dataset.kind = e.kind;
    line.dataset.subject = e.subject;
    log.prepend(line);
    while (log.childNodes.length > 500) log.removeChild(log.lastChild);
    if (e.kind !== 'bead.updated' && e.kind !== 'mail.read') refresh();
  };
  document.addEventListener('submit', function (ev) {
    const form = ev.target;
    if (!form.matches('form.ack')) return;
    ev.preventDefault();
    const csrf = document.querySelector('meta[name="gastown-csrf"]').content;
    fetch(form.action, { method: 'POST', headers: { 'x-gastown-csrf': csrf } }).then(refresh);
  });
})();
"#;

/// The whole page; `csrf`: the run's same-origin token its acks carry.
pub fn whole(s: &TownStatus, csrf: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"gastown-csrf\" content=\"{csrf}\">\
         <title>Gas Town — {town}</title><style>{STYLE}</style></head>\
         <body><header><h1>Gas Town</h1><span>{town}</span></header>\
         <div id=\"status\">{status}</div>\
         <main><section class=\"wide\"><h2>Activity</h2><div id=\"log\"></div></section></main>\
         <script>{SCRIPT}</script></body></html>\n",
        town = esc(&s.town),
        csrf = esc(csrf),
        status = status(s)
    )
}

/// The status part (what `/status` serves and the script swaps in).
pub fn status(s: &TownStatus) -> String {
    let mut out = String::from("<main>");
    // What needs the overseer first.
    out.push_str("<section class=\"wide\" id=\"attention\"><h2>Needs you first</h2>");
    if s.attention.is_empty() {
        out.push_str("<p class=\"muted\">nothing: all quiet</p>");
    } else {
        out.push_str("<table>");
        for a in &s.attention {
            let _ = write!(
                out,
                "<tr><td class=\"{l}\">{l}</td><td>{w}</td><td><code>{c}</code></td></tr>",
                l = esc(&a.level),
                w = esc(&a.what),
                c = esc(&a.command)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
    // Agents, as a tree: rig (or the town), then role, then each agent.
    out.push_str("<section id=\"agents\"><h2>Agents</h2><table><tr><th>agent</th><th>state</th><th>hook</th><th>session</th></tr>");
    let mut agents: Vec<&gastown_town::status::AgentStatus> = s.agents.iter().collect();
    agents.sort_by(|a, b| (&a.rig, &a.role).cmp(&(&b.rig, &b.role)));
    let (mut rig, mut role): (Option<&str>, Option<&str>) = (None, None);
    for a in agents {
        if rig != Some(a.rig.as_str()) {
            rig = Some(a.rig.as_str());
            role = None;
            let name = if a.rig.is_empty() {
                "town"
            } else {
                a.rig.as_str()
            };
            let _ = write!(
                out,
                "<tr class=\"tree-rig\" data-tree-rig=\"{r}\"><th colspan=\"4\">{r}</th></tr>",
                r = esc(name)
            );
        }
        if role != Some(a.role.as_str()) {
            role = Some(a.role.as_str());
            let _ = write!(
                out,
                "<tr class=\"tree-role\"><td colspan=\"4\" class=\"muted\">&nbsp;&nbsp;{}</td></tr>",
                esc(&a.role)
            );
        }
        let hook = a.hook.as_ref().map_or_else(
            || "<span class=\"muted\">empty</span>".to_string(),
            |h| {
                let step = h.step.as_deref().map_or_else(String::new, |st| {
                    format!(" <span class=\"step\">step {}</span>", esc(st))
                });
                format!("<code>{}</code> {}{step}", esc(&h.id), esc(&h.title))
            },
        );
        let mut session = a.session.as_deref().unwrap_or("?").to_string();
        if let Some(until) = &a.limited_until {
            session.push_str(&format!(" (limited until {until})"));
        }
        let _ = write!(
            out,
            "<tr data-agent=\"{addr}\"><td>&nbsp;&nbsp;&nbsp;&nbsp;<a href=\"/screen/{addr}\" class=\"peek\">{addr}</a></td><td>{st}</td><td>{hook}</td><td>{se}</td></tr>",
            addr = esc(&a.address),
            st = esc(&a.state),
            se = esc(&session)
        );
    }
    if s.agents.is_empty() {
        out.push_str("<tr><td colspan=\"4\" class=\"muted\">none yet</td></tr>");
    }
    out.push_str("</table></section>");
    // Rigs and convoys.
    out.push_str("<section id=\"convoys\"><h2>Convoys</h2><table>");
    for c in &s.convoys {
        let pct = (c.closed * 100).checked_div(c.total).unwrap_or(0);
        let _ = write!(
            out,
            "<tr data-convoy=\"{id}\"><td><code>{id}</code></td><td>{name}</td><td><span class=\"bar\"><span style=\"width:{pct}%\"></span></span> <span class=\"progress\">{done}/{total}</span></td></tr>",
            id = esc(&c.id),
            name = esc(&c.name),
            done = c.closed,
            total = c.total
        );
    }
    if s.convoys.is_empty() {
        out.push_str("<tr><td class=\"muted\">none open</td></tr>");
    }
    out.push_str("</table><h2>Rigs</h2><table>");
    for r in &s.rigs {
        let landing = r.last_landing.as_ref().map_or_else(
            || "nothing landed yet".to_string(),
            |l| format!("last landing <code>{}</code> {}", esc(&l.bead), esc(&l.at)),
        );
        let running = match (r.running, &r.problem) {
            (_, Some(p)) => format!("<span class=\"high\">broken: {}</span>", esc(p)),
            (Some(true), None) => "running".to_string(),
            (Some(false), None) => "<span class=\"high\">stopped</span>".to_string(),
            (None, None) => "?".to_string(),
        };
        let running = match &r.paused {
            Some(why) => format!(
                "{running} <span class=\"high paused\">paused by budget: {}</span>",
                esc(why)
            ),
            None => running,
        };
        let _ = write!(
            out,
            "<tr data-rig=\"{n}\"><td>{n}</td><td>{running}</td><td>{p} polecats ({w} working, {i} idle, {st} stuck), {q} queued, {m} in the merge queue</td><td class=\"landing\">{landing}</td></tr>",
            n = esc(&r.name),
            p = r.polecats,
            w = r.working,
            i = r.idle,
            st = r.stuck,
            q = r.queued,
            m = r.merge_requests
        );
    }
    out.push_str("</table>");
    spend(&mut out, s);
    out.push_str("</section>");
    // The merge queue.
    out.push_str("<section id=\"queue\"><h2>Merge queue</h2><table>");
    for mr in &s.merge_queue {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code> by {}</td></tr>",
            esc(&mr.id),
            esc(&mr.rig),
            esc(&mr.state),
            esc(&mr.bead),
            esc(&mr.worker)
        );
    }
    if s.merge_queue.is_empty() {
        out.push_str("<tr><td class=\"muted\">empty</td></tr>");
    }
    out.push_str("</table></section>");
    // Escalations, each with its ack.
    out.push_str("<section id=\"escalations\"><h2>Escalations</h2><table>");
    for e in &s.escalations {
        let ack = if e.state == "open" {
            format!(
                "<form class=\"ack\" method=\"post\" action=\"/escalations/{id}/ack\"><button type=\"submit\">ack</button></form>",
                id = esc(&e.id)
            )
        } else {
            esc(&e.state)
        };
        let _ = write!(
            out,
            "<tr data-escalation=\"{id}\" data-state=\"{st}\"><td><code>{id}</code></td><td class=\"{sev}\">{sev}</td><td>{src}: {msg}</td><td>{ack}</td></tr>",
            id = esc(&e.id),
            st = esc(&e.state),
            sev = esc(&e.severity),
            src = esc(&e.source),
            msg = esc(e.message.lines().next().unwrap_or(""))
        );
    }
    if s.escalations.is_empty() {
        out.push_str("<tr><td class=\"muted\">none open</td></tr>");
    }
    out.push_str("</table></section>");
    // Mail.
    let _ = write!(
        out,
        "<section id=\"mail\"><h2>Your mail: {} unread</h2><table>",
        s.mail.unread
    );
    for m in &s.mail.latest {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&m.id),
            esc(&m.from),
            esc(&m.subject)
        );
    }
    let _ = write!(
        out,
        "</table></section></main><p class=\"muted\" id=\"at\">as of {}{}</p>",
        esc(&s.at),
        if s.live {
            ""
        } else {
            " — gastown run is not running"
        }
    );
    out
}

/// The spend panel: today (UTC) and in all, per rig, and each budget's use.
fn spend(out: &mut String, s: &TownStatus) {
    let Some(spend) = &s.spend else {
        return;
    };
    let _ = write!(
        out,
        "<h2>Spend</h2><table id=\"spend\"><tr data-spend=\"town\"><td>town</td><td class=\"today\">${:.2} today ({} UTC)</td><td>${:.2} in all</td></tr>",
        spend.today,
        esc(&spend.day),
        spend.total
    );
    for r in &spend.rigs {
        let _ = write!(
            out,
            "<tr data-spend=\"{n}\"><td>{n}</td><td>${:.2} today</td><td>${:.2} in all</td></tr>",
            r.today,
            r.total,
            n = esc(&r.rig)
        );
    }
    for b in &spend.budgets {
        let mut limits = Vec::new();
        if let Some(d) = b.daily {
            limits.push(format!("daily ${d:.2}"));
        }
        if let Some(t) = b.total {
            limits.push(format!("total ${t:.2}"));
        }
        let (class, state) = match b.level {
            gastown_town::budget::Level::Ok => ("", "ok".to_string()),
            gastown_town::budget::Level::Warning => (
                "medium",
                format!("warning: {}", b.reason.as_deref().unwrap_or("")),
            ),
            gastown_town::budget::Level::Paused => (
                "high",
                format!("paused by budget: {}", b.reason.as_deref().unwrap_or("")),
            ),
        };
        let _ = write!(
            out,
            "<tr data-budget=\"{l}\"><td>budget {l}</td><td>{lim}</td><td class=\"{class}\">{st}</td></tr>",
            l = esc(&b.label()),
            lim = esc(&limits.join(", ")),
            st = esc(&state)
        );
    }
    out.push_str("</table>");
}

/// An agent's screen, read-only.
pub fn screen(agent: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{a}</title>\
         <style>{STYLE}</style></head><body><header><h1>{a}</h1><span>read-only screen</span></header>\
         <pre id=\"screen\" style=\"padding:12px\">{t}</pre></body></html>\n",
        a = esc(agent),
        t = esc(text)
    )
}

/// The page off loopback without the right token: a form that asks for it (`wrong`: one was
/// given and is not it).
pub fn ask_token(wrong: bool) -> String {
    let said = if wrong {
        "That token is not this dashboard's."
    } else {
        "This dashboard does not listen on loopback, so it needs its token."
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Gas Town</title>\
         <style>{STYLE}</style></head><body><header><h1>Gas Town</h1></header>\
         <form id=\"ask-token\" method=\"get\" action=\"/\" style=\"padding:12px\">\
         <p>{said} It is in the URL <code>gastown dashboard</code> printed at its start \
         (<code>…/?token=…</code>), or the one it was given with <code>--token</code>.</p>\
         <label>token <input name=\"token\" type=\"password\" autocomplete=\"off\" required></label> \
         <button type=\"submit\">open</button></form></body></html>\n"
    )
}

/// A page that says what went wrong.
pub fn error(message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Gas Town</title>\
         <style>{STYLE}</style></head><body><header><h1>Gas Town</h1></header>\
         <p style=\"padding:12px\" id=\"error\">{}</p></body></html>\n",
        esc(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_shown_as_a_tree_of_rig_role_and_agent() {
        let mut s: TownStatus = serde_json::from_value(serde_json::json!({
            "town": "/t", "at": "", "live": true, "attention": [], "rigs": [], "agents": [],
            "convoys": [], "merge_queue": [], "escalations": [],
            "mail": { "unread": 0, "latest": [] }, "limits": []
        }))
        .expect("a status");
        let agent = |address: &str, role: &str, rig: &str| {
            serde_json::from_value::<gastown_town::status::AgentStatus>(serde_json::json!({
                "address": address, "role": role, "rig": rig, "state": "idle", "stuck": null,
                "hook": null, "runtime": null, "unread": 0, "dnd": false, "session": "idle",
                "limited_until": null
            }))
            .expect("an agent")
        };
        s.agents = vec![
            agent("beta/polecats/max", "polecat", "beta"),
            agent("alpha/polecats/nux", "polecat", "alpha"),
            agent("mayor", "mayor", ""),
            agent("alpha/crew/ann", "crew", "alpha"),
            agent("alpha/polecats/slit", "polecat", "alpha"),
        ];
        let html = status(&s);
        let at = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing: {html}"))
        };
        // The town's own agents first, then each rig; in a rig each role, then its agents.
        let order = [
            at("data-tree-rig=\"town\""),
            at("data-agent=\"mayor\""),
            at("data-tree-rig=\"alpha\""),
            at("&nbsp;&nbsp;crew<"),
            at("data-agent=\"alpha/crew/ann\""),
            at("&nbsp;&nbsp;polecat<"),
            at("data-agent=\"alpha/polecats/nux\""),
            at("data-agent=\"alpha/polecats/slit\""),
            at("data-tree-rig=\"beta\""),
            at("data-agent=\"beta/polecats/max\""),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{html}");
        assert_eq!(html.matches("data-tree-rig=").count(), 3, "{html}");
        assert_eq!(html.matches("&nbsp;&nbsp;polecat<").count(), 2, "{html}");
    }

    #[test]
    fn text_is_escaped_everywhere_it_goes() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let page = error("<img src=x onerror=alert(1)>");
        assert!(!page.contains("<img"), "{page}");
    }
}

//! When a usage limit resets, read from the line the CLI shows: an absolute time (`resets 5pm
//! (UTC)`, `resets Dec 6, 5:30pm (UTC)`, `Try again at 2026-12-05T18:00:00Z`), a relative one
//! (`try again in 2h 3m`, `in 30 seconds`), or a Unix epoch (`resets_at: 1765000000`). Anything
//! else, or a time already past, gives [`backoff`]: one minute, doubling per limit in a row, at
//! most an hour.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first wait when the reset is unknown.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(60);

/// The longest wait when the reset is unknown: an hour, so a limit that lifted early costs at
/// most that.
pub const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// The wait for the `streak`-th limit in a row (0 for the first) whose reset is unknown.
pub fn backoff(streak: u32) -> Duration {
    BACKOFF_FIRST
        .checked_mul(1u32 << streak.min(16))
        .unwrap_or(BACKOFF_CAP)
        .min(BACKOFF_CAP)
}

/// When the limit shown by `line` resets: the parsed time when it is in the future, else
/// `now` + [`backoff`]`(streak)`.
pub fn reset_after(line: &str, now: SystemTime, streak: u32) -> SystemTime {
    match parse_reset(line, now) {
        Some(at) if at > now => at,
        _ => now + backoff(streak),
    }
}

/// The reset time in `line`, if it says one (past times included: the caller decides). A
/// wall-clock time with no zone is this machine's local time (the CLI runs here, in the same
/// zone).
pub fn parse_reset(line: &str, now: SystemTime) -> Option<SystemTime> {
    parse_reset_in(line, now, &local_offset)
}

/// [`parse_reset`] with `offset` giving the local zone's offset from UTC (seconds east) at a
/// Unix time.
fn parse_reset_in(line: &str, now: SystemTime, offset: &dyn Fn(i64) -> i64) -> Option<SystemTime> {
    let lower = line.to_ascii_lowercase();
    relative(&lower, now)
        .or_else(|| rfc3339(line))
        .or_else(|| clock(&lower, now, offset))
        .or_else(|| epoch(&lower))
}

/// This machine's offset from UTC (seconds east) at Unix time `at`, from the C library's zone
/// (`TZ`, else `/etc/localtime`); 0 when it cannot tell.
fn local_offset(at: i64) -> i64 {
    // `time_t` is 64 bits on the platforms gastown runs on.
    let t: libc::time_t = at;
    // SAFETY: `tm` is plain data, zeroed is a valid value; `localtime_r` only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals for the whole call; `localtime_r` is the
    // thread-safe form.
    let done = unsafe { libc::localtime_r(&t, &mut tm) };
    if done.is_null() {
        return 0;
    }
    tm.tm_gmtoff
}

/// `in 2h 3m`, `in 30 seconds`, `in 1 hour 5 minutes`, `in 250ms`.
fn relative(lower: &str, now: SystemTime) -> Option<SystemTime> {
    let start = lower.find(" in ")? + 4;
    let mut total = Duration::ZERO;
    let mut words = lower[start..].split_whitespace().peekable();
    let mut found = false;
    while let Some(word) = words.next() {
        let word = word.trim_end_matches(['.', ',', ')', ']', ';']);
        let digits: String = word
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if digits.is_empty() {
            break;
        }
        let value: f64 = digits.parse().ok()?;
        let mut unit = word[digits.len()..].to_string();
        if unit.is_empty() {
            unit = words
                .next()?
                .trim_end_matches(['.', ',', ')', ']', ';'])
                .to_string();
        }
        let seconds = match unit.as_str() {
            "ms" | "millisecond" | "milliseconds" => value / 1000.0,
            "s" | "sec" | "secs" | "second" | "seconds" => value,
            "m" | "min" | "mins" | "minute" | "minutes" => value * 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => value * 3600.0,
            "d" | "day" | "days" => value * 86400.0,
            _ => break,
        };
        total += Duration::try_from_secs_f64(seconds).ok()?;
        found = true;
    }
    found.then_some(now + total)
}

/// An RFC 3339 time anywhere in the line (`2026-12-05T18:00:00Z`).
fn rfc3339(line: &str) -> Option<SystemTime> {
    line.split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | '(' | ')' | '"')))
        .find_map(|w| humantime::parse_rfc3339_weak(w).ok())
}

/// Claude Code's `resets 5pm (UTC)`, `resets 5:30pm (UTC)`, `resets Dec 6, 5pm (UTC)` and
/// Codex's `try again at 5:30 PM`: a wall-clock time in UTC when the zone in parentheses says
/// so, in the local zone (`offset`) when none is given (Codex shows local time); another named
/// zone cannot be converted without a zone database, so it is not parsed. A time of day
/// without a date is the next such time.
fn clock(lower: &str, now: SystemTime, offset: &dyn Fn(i64) -> i64) -> Option<SystemTime> {
    let (head, rest) = ["resets ", "try again at ", "reset at ", "resets at "]
        .iter()
        .find_map(|key| lower.find(key).map(|i| (key, &lower[i + key.len()..])))?;
    let _ = head;
    let mut local = true;
    if let Some(open) = rest.find('(') {
        let zone = rest[open + 1..].split(')').next()?.trim();
        if zone != "utc" && zone != "gmt" {
            return None;
        }
        local = false;
    }
    let text = rest.split('(').next()?.trim().trim_end_matches('.');
    let (date, seconds_of_day) = date_and_time(text)?;
    let utc_now = i64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    let shift = if local { offset(utc_now) } else { 0 };
    // Wall-clock seconds of `now` in the zone the line speaks in.
    let now_secs = u64::try_from(utc_now + shift).ok()?;
    let today = now_secs / 86400;
    let day = match date {
        None => {
            if today * 86400 + seconds_of_day > now_secs {
                today
            } else {
                today + 1
            }
        }
        Some(date) => month_day(&date, today)?,
    };
    let wall = i64::try_from(day * 86400 + seconds_of_day).ok()?;
    // Back to UTC with the offset in force then (a change of daylight saving time between now
    // and the reset counts).
    let at = if local {
        wall - offset(wall - shift)
    } else {
        wall
    };
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(at).ok()?))
}

/// A time of day after an optional date: Claude's `Dec 6, 5pm`, Codex's `2:11 AM`, `Dec 7 2:11
/// AM` and `Dec 7, 2027 2:11 AM` → (the date, seconds after midnight).
fn date_and_time(text: &str) -> Option<(Option<String>, u64)> {
    if let Some((date, time)) = text.rsplit_once(", ")
        && let Some(seconds) = time_of_day(time.trim())
    {
        return Some((Some(date.trim().to_string()), seconds));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    [2, 1]
        .into_iter()
        .filter(|&k| k <= words.len())
        .find_map(|k| {
            let (date, time) = words.split_at(words.len() - k);
            let seconds = time_of_day(&time.join(" "))?;
            let date = date.join(" ");
            Some(((!date.is_empty()).then_some(date), seconds))
        })
}

/// `5pm`, `5:30pm`, `5:30 pm`, `17:30` → seconds after midnight.
fn time_of_day(text: &str) -> Option<u64> {
    let text = text.replace(' ', "");
    let (clock, meridiem) = if let Some(t) = text.strip_suffix("am") {
        (t, Some(false))
    } else if let Some(t) = text.strip_suffix("pm") {
        (t, Some(true))
    } else {
        (text.as_str(), None)
    };
    let (hour, minute) = match clock.split_once(':') {
        Some((h, m)) => (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?),
        None => (clock.parse::<u64>().ok()?, 0),
    };
    let hour = match meridiem {
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None if hour < 24 && clock.contains(':') => hour,
        None => return None,
    };
    (minute < 60).then_some(hour * 3600 + minute * 60)
}

/// `dec 6` (this year, or the next if that is more than a day past) → days since the epoch.
fn month_day(text: &str, today: u64) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut words = text.split_whitespace();
    let first = words.next()?;
    let month = MONTHS.iter().position(|m| first.starts_with(m))?;
    let day: u64 = words.next()?.trim_end_matches(',').parse().ok()?;
    let year = match words.next() {
        Some(y) => y.parse::<i64>().ok()?,
        None => civil_from_days(today as i64).0,
    };
    let mut days = days_from_civil(year, month as u64 + 1, day)?;
    if days + 1 < today as i64 {
        days = days_from_civil(year + 1, month as u64 + 1, day)?;
    }
    u64::try_from(days).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The year (and the rest, unused) of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A Unix epoch in seconds (10 digits) after `resets_at`, `reset`, `until` or alone.
fn epoch(lower: &str) -> Option<SystemTime> {
    lower
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 10)
        .find_map(|w| w.parse::<u64>().ok())
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-05 16:00:00 UTC.
    fn now() -> SystemTime {
        UNIX_EPOCH
            + Duration::from_secs(
                days_from_civil(2026, 12, 5).expect("date") as u64 * 86400 + 16 * 3600,
            )
    }

    fn utc(year: i64, month: u64, day: u64, hour: u64, minute: u64) -> SystemTime {
        let days = days_from_civil(year, month, day).expect("date") as u64;
        UNIX_EPOCH + Duration::from_secs(days * 86400 + hour * 3600 + minute * 60)
    }

    /// Parsed on a machine whose zone is UTC.
    fn check(line: &str, expected: Option<SystemTime>) {
        assert_eq!(parse_reset_in(line, now(), &|_| 0), expected, "{line}");
    }

    /// Codex shows its reset in the machine's local time: on a machine 8 hours behind UTC,
    /// `2:11 AM` is 10:11 UTC (the next such time: today's already passed at 16:00 UTC, which
    /// is 8:00 there); `(UTC)` says UTC whatever the machine's zone.
    #[test]
    fn a_reset_without_a_zone_is_local_time() {
        let pacific = |_: i64| -8 * 3600;
        let at = |line: &str| parse_reset_in(line, now(), &pacific);
        assert_eq!(
            at("You’ve hit your usage limit. Try again at 2:11 AM."),
            Some(utc(2026, 12, 6, 10, 11))
        );
        assert_eq!(
            at("You’ve hit your usage limit. Try again at 9:30 AM."),
            Some(utc(2026, 12, 5, 17, 30)),
            "later today there"
        );
        assert_eq!(
            at("You’ve hit your limit · resets 5pm (UTC)"),
            Some(utc(2026, 12, 5, 17, 0))
        );
        let east = |_: i64| 5 * 3600 + 1800;
        assert_eq!(
            parse_reset_in("Try again at Dec 7 2:11 AM.", now(), &east),
            Some(utc(2026, 12, 6, 20, 41))
        );
        // The machine's own zone is read without failing (whatever it is).
        assert!(local_offset(1_800_000_000).abs() <= 14 * 3600);
    }

    #[test]
    fn relative_resets() {
        let now = now();
        check(
            "Rate limit reached. Please try again in 2h 3m.",
            Some(now + Duration::from_secs(2 * 3600 + 180)),
        );
        check(
            "[sim limit: usage limit reached · try again in 4s]",
            Some(now + Duration::from_secs(4)),
        );
        check(
            "try again in 30 seconds",
            Some(now + Duration::from_secs(30)),
        );
        check(
            "Please try again in 1.5s",
            Some(now + Duration::from_millis(1500)),
        );
        check("retry in 250ms", Some(now + Duration::from_millis(250)));
        check(
            "try again in 1 hour 5 minutes",
            Some(now + Duration::from_secs(3900)),
        );
    }

    #[test]
    fn absolute_resets() {
        check(
            "You've hit your limit · resets 5pm (UTC)",
            Some(utc(2026, 12, 5, 17, 0)),
        );
        check(
            "You've hit your usage limit · resets 5:30pm (UTC)",
            Some(utc(2026, 12, 5, 17, 30)),
        );
        check(
            "You've hit your limit · resets 3pm (UTC)",
            Some(utc(2026, 12, 6, 15, 0)),
        );
        check("resets Dec 8, 9am (UTC)", Some(utc(2026, 12, 8, 9, 0)));
        check("resets Jan 2, 2027, 9am (UTC)", Some(utc(2027, 1, 2, 9, 0)));
        check(
            "You've hit your usage limit. Try again at 17:45.",
            Some(utc(2026, 12, 5, 17, 45)),
        );
        // Codex's, seen (wrapped onto one line): today, another day, another year.
        check(
            "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit \
             https://chatgpt.com/settings/ usage to purchase more credits or try again at 5:30 PM.",
            Some(utc(2026, 12, 5, 17, 30)),
        );
        check(
            "You’ve hit your usage limit. Try again at Dec 7 2:11 AM.",
            Some(utc(2026, 12, 7, 2, 11)),
        );
        check(
            "You’ve hit your usage limit. Try again at Jan 2, 2027 2:11 AM.",
            Some(utc(2027, 1, 2, 2, 11)),
        );
        check(
            "limited until 2026-12-05T18:00:00Z",
            Some(utc(2026, 12, 5, 18, 0)),
        );
    }

    #[test]
    fn epoch_resets() {
        let at = utc(2026, 12, 5, 18, 0);
        let secs = at
            .duration_since(UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs();
        check(&format!("usage_limit_reached resets_at: {secs}"), Some(at));
    }

    #[test]
    fn unparsable_resets() {
        check(
            "API Error: Request rejected (429) · Please try again later.",
            None,
        );
        check("You've hit your limit · resets 5pm (Europe/Berlin)", None);
        check("resets 25pm (UTC)", None);
        check("try again in a while", None);
    }

    #[test]
    fn unparsable_or_past_resets_back_off_up_to_a_cap() {
        let now = now();
        let later = reset_after("try again in 10s", now, 0);
        assert_eq!(later, now + Duration::from_secs(10));
        assert_eq!(
            reset_after("Please try again later.", now, 0),
            now + BACKOFF_FIRST
        );
        assert_eq!(
            reset_after("Please try again later.", now, 2),
            now + BACKOFF_FIRST * 4
        );
        assert_eq!(
            reset_after("limited until 2026-12-05T15:00:00Z", now, 1),
            now + BACKOFF_FIRST * 2,
            "past"
        );
        assert_eq!(backoff(30), BACKOFF_CAP);
        assert_eq!(backoff(6), BACKOFF_CAP);
        assert!(backoff(5) < BACKOFF_CAP);
    }
}

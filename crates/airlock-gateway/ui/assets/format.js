// Formatting of numbers, money, durations and times for display.

const DASH = '—';
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

export function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

/** 12,345 */
export function num(v) {
  return isNum(v) ? integer.format(v) : DASH;
}

/** 12.3K */
export function compact(v) {
  return isNum(v) ? (Math.abs(v) < 10000 ? integer.format(v) : compactFmt.format(v)) : DASH;
}

/** $1,234.56; small amounts keep more digits ($0.0042). */
export function money(v) {
  if (!isNum(v)) return DASH;
  const abs = Math.abs(v);
  const digits = abs === 0 ? 2 : abs < 0.01 ? 4 : abs < 1 ? 3 : 2;
  return new Intl.NumberFormat(undefined, {
    style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: digits,
  }).format(v);
}

/** 12.5 % (ratio 0..1 in). */
export function percent(ratio, digits = 1) {
  if (!isNum(ratio)) return DASH;
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** Milliseconds as 850 ms, 1.25 s, 3 min 5 s, 2 h 10 min. */
export function ms(v) {
  if (!isNum(v)) return DASH;
  if (v === 0) return '0 ms';
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  const s = v / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const hours = Math.floor(m / 60);
  return `${hours} h ${m % 60} min`;
}

/** Microseconds, shown as a duration. */
export function us(v) {
  return isNum(v) ? ms(v / 1000) : DASH;
}

const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** Unix milliseconds as a local date and time. */
export function dateTime(v) {
  return isNum(v) ? dateTimeFmt.format(new Date(v)) : DASH;
}

/** Unix milliseconds as a local date. */
export function date(v) {
  return isNum(v) ? dateFmt.format(new Date(v)) : DASH;
}

/** ISO time for a <time datetime>. */
export function iso(v) {
  return isNum(v) ? new Date(v).toISOString() : '';
}

/** A value or a dash. */
export function orDash(v) {
  return v === null || v === undefined || v === '' ? DASH : String(v);
}

/** Unix ms -> value for <input type="datetime-local"> (local time). */
export function toLocalInput(v) {
  if (!isNum(v)) return '';
  const d = new Date(v);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** <input type="datetime-local"> value -> unix ms, or null. */
export function fromLocalInput(value) {
  if (!value) return null;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? t : null;
}

/** Bytes as 512 B, 1.5 KiB, 3.2 MiB, 1.1 GiB. */
export function bytes(v) {
  if (!isNum(v)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = v;
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return i === 0 ? `${integer.format(n)} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

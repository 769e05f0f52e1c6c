// Summaries of limits and budgets (projects and keys).

import * as f from './format.js';

export function budgetText(budget) {
  if (!budget || !f.isNum(budget.usd)) return '—';
  return `${f.money(budget.usd)} per ${budget.period === 'day' ? 'day' : 'month'}`;
}

export function limitsText(limits) {
  const l = limits || {};
  const parts = [];
  if (f.isNum(l.rpm)) parts.push(`${f.num(l.rpm)} requests/min`);
  if (f.isNum(l.tpm)) parts.push(`${f.num(l.tpm)} tokens/min`);
  if (f.isNum(l.max_concurrent)) parts.push(`${f.num(l.max_concurrent)} at once`);
  return parts.length ? parts.join(' · ') : 'No limits';
}

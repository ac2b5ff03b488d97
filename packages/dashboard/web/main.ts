// The dashboard page: hash routes (#/network, #/group/<ns>, #/operator/<address>,
// #/round/<solution>/<round id>, #/distance/<identity>), each a view read from the gateway's JSON,
// re-read when the gateway's Server-Sent Events say a service's log moved. Read-only.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { checkProof } from '../src/proof.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const main = document.getElementById('main')!;
const live = document.getElementById('live')!;

/** Base units (10^18 per token) as tokens, rounded down to 4 decimals; the exact value stays in data-value. */
export function tokens(base: string): string {
  const v = BigInt(base || '0');
  const whole = v / 10n ** 18n;
  const frac = ((v % 10n ** 18n) / 10n ** 14n).toString().padStart(4, '0');
  return `${whole.toLocaleString('en')}.${frac} EWT`;
}

/** A tiny element builder: text children are escaped (textContent), never parsed as HTML. */
function h(tag: string, attrs: Record<string, string | undefined> = {}, ...children: (Node | string | number | null | undefined)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
const amount = (base: string, testid?: string) => h('span', { class: 'num', 'data-value': base, 'data-testid': testid }, tokens(base));
const num = (v: number | string, testid?: string) => h('span', { class: 'num', 'data-testid': testid }, String(v));
const link = (href: string, text: string) => h('a', { href }, text);
const short = (addr: string) => (addr.length > 24 ? `${addr.slice(0, 14)}…${addr.slice(-6)}` : addr);

function dl(rows: [string, Node | string | number][], testid?: string): HTMLElement {
  const d = h('dl', { 'data-testid': testid });
  for (const [k, v] of rows) d.append(h('dt', {}, k), h('dd', {}, v instanceof Node ? v : String(v)));
  return d;
}

function table(caption: string, head: string[], rows: (Node | string | number)[][], testid?: string): HTMLElement {
  const t = h('table', { 'data-testid': testid }, h('caption', {}, caption));
  t.append(h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))));
  const body = h('tbody');
  for (const r of rows) body.append(h('tr', {}, ...r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c instanceof Node ? c : String(c)) : h('td', {}, c instanceof Node ? c : String(c))))));
  if (rows.length === 0) body.append(h('tr', {}, h('td', { colspan: String(head.length) }, 'none yet')));
  t.append(body);
  return t;
}

const COLORS = ['#1f4e9c', '#1b7a3a', '#b3261e', '#7a4f01'];
let afterRender: (() => void)[] = [];
/**
 * A uPlot chart of series over reward periods, with its figures as a table beside it (screen
 * readers and keyboard users read the table; the canvas is decoration for them).
 */
function chart(title: string, periods: number[], series: { label: string; values: number[] }[], testid: string): HTMLElement {
  const box = h('figure', { class: 'chart', 'data-testid': testid, 'data-series': JSON.stringify({ periods, series }) });
  const plot = h('div', { role: 'img', 'aria-label': `${title}: chart of ${series.map((s) => s.label).join(', ')} per reward period; the figures are in the table below` });
  box.append(h('figcaption', {}, title), plot);
  // Drawn once the view is in the page, at the width it has there.
  afterRender.push(() => {
    const width = Math.max(360, Math.min(900, main.clientWidth - 40));
    // eslint-disable-next-line no-new
    new uPlot({
      width, height: 240, scales: { x: { time: false } }, legend: { live: false },
      axes: [{ label: 'reward period', stroke: '#222', grid: { stroke: '#ddd' }, incrs: [1, 2, 5, 10] }, { stroke: '#222', grid: { stroke: '#ddd' }, incrs: [1, 2, 5, 10, 20, 50, 100] }],
      // The first series wide and pale underneath, so equal series (eligible = correct) stay visible.
      // (Options left out rather than set to undefined: uPlot would pass undefined on to the canvas.)
      series: [{ label: 'period' }, ...series.map((s, i) => ({
        label: s.label, stroke: i === 0 ? 'rgba(31, 78, 156, 0.45)' : COLORS[i % COLORS.length], width: i === 0 ? 7 : 2,
        ...(s.label.startsWith('SLA') ? { dash: [6, 4] } : {}), points: { size: i === 0 ? 9 : 7, fill: COLORS[i % COLORS.length] },
      }))],
    }, [periods, ...series.map((s) => s.values)], plot);
  });
  box.append(table(`${title} (figures)`, ['period', ...series.map((s) => s.label)], periods.map((p, i) => [p, ...series.map((s) => s.values[i] ?? 0)]), `${testid}-table`));
  return box;
}

/** Token amounts as numbers for a chart (display only; the table keeps the exact figures). */
const asTokens = (base: string): number => Number(BigInt(base || '0') / 10n ** 14n) / 1e4;

async function get(path: string): Promise<Json> {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ?? `${r.status}`);
  return body;
}

const views: Record<string, (args: string[]) => Promise<HTMLElement[]>> = {
  async network() {
    const n = await get('/api/network');
    const p = n.rewardPeriod;
    const progress = h('progress', { max: String(p.length), value: String(p.blocksInto), 'aria-label': `reward period ${p.index}: ${p.blocksInto} of ${p.length} blocks` });
    return [
      h('h2', {}, 'Network'),
      h('section', { 'aria-labelledby': 'net-chain' }, h('h3', { id: 'net-chain' }, 'Chain and reward period'), dl([
        ['Height', num(n.height, 'height')],
        ['Reward period', num(p.index, 'period')],
        ['Period blocks', `${p.firstBlock}–${p.lastBlock} (${p.length} blocks, closed ${p.settlementDelay} blocks late)`],
        ['Through the period', h('span', {}, progress, ' ', num(`${p.progressPercent}%`, 'period-progress'))],
      ])),
      h('section', { 'aria-labelledby': 'net-rounds' }, h('h3', { id: 'net-rounds' }, 'Rounds'),
        table('Rounds per state', ['state', 'rounds'], Object.entries(n.roundsByState).map(([s, c]) => [s, num(c as number, `rounds-${s}`)]), 'rounds-by-state'),
        table('Latest rounds', ['round', 'group', 'state', 'period', 'votes / eligible'], n.recentRounds.map((r: Json) => [
          link(`#/round/${encodeURIComponent(r.solution)}/${encodeURIComponent(r.roundId)}`, `${r.solution}/${r.roundId}`), r.group, r.state, r.period, `${r.tally.submitted} / ${r.tally.eligible}`]), 'recent-rounds')),
      h('section', { 'aria-labelledby': 'net-groups' }, h('h3', { id: 'net-groups' }, 'Groups'),
        table('Groups', ['group', 'status', 'operators', 'total stake', 'budget'], n.groups.map((g: Json) => [
          link(`#/group/${encodeURIComponent(g.namespace)}`, g.namespace), g.status, num(g.operators), amount(g.totalStake), amount(g.budget)]), 'groups')),
      h('section', { 'aria-labelledby': 'net-distance' }, h('h3', { id: 'net-distance' }, 'Distance evaluation'), dl([
        ['Evaluation period', num(n.distance.evaluationPeriod, 'evaluation-period')],
        ['Pool', num(n.distance.pool, 'pool')],
        ['Identities in the pool', num(n.distance.poolSize, 'pool-size')],
        ['Published by', n.distance.publishedBy.length ? n.distance.publishedBy.map(short).join(', ') : 'nobody yet'],
        ['Web of trust', `${n.distance.wot.identities} identities, ${n.distance.wot.members} members, ${n.distance.wot.referees} referees`],
      ])),
    ];
  },

  async group([ns]) {
    const g = await get(`/api/groups/${encodeURIComponent(ns!)}`);
    const c = g.config;
    const burn = g.payouts.map((p: Json) => p.paid);
    return [
      h('h2', {}, `Group ${g.namespace}`),
      dl([['Status', g.status], ['Owner', short(g.owner)], ['Budget left', amount(g.budgetAvailable, 'budget-left')], ['Total stake', amount(g.totalStake, 'total-stake')],
        ['Operators', num(g.operatorsCount, 'operators-count')], ['Current period', num(g.currentPeriod)],
        ['Burn last period', burn.length ? amount(burn.at(-1)) : 'no period closed yet']], 'group-summary'),
      h('section', { 'aria-labelledby': 'g-config' }, h('h3', { id: 'g-config' }, 'Configuration'), dl([
        ['Stake', h('span', {}, amount(c.minStake), ' to ', amount(c.maxStake))], ['Max operators', c.maxOperators], ['Allow list', c.allowListEnabled ? 'on' : 'off'],
        ['Subscription reward / block', amount(c.subscriptionRewardPerBlock)], ['Voting reward / block', amount(c.votingRewardPerBlock)],
        ['SLA threshold', `${c.slaVotingThreshold}%`], ['Operation', `blocks ${c.operationStartBlock}–${c.operationEndBlock}`], ['Withdrawal delay', `${c.withdrawalDelay} period(s)`],
        ['Solutions', g.solutions.map((s: Json) => `${s.namespace} (${s.status})`).join(', ') || 'none'],
      ])),
      h('section', { 'aria-labelledby': 'g-ops' }, h('h3', { id: 'g-ops' }, 'Operators'),
        table('Operators, stake and SLA (newest closed period with rounds)', ['operator', 'stake', 'stake state', 'active from period', 'released after period', 'SLA %', 'SLA period'], g.operators.map((o: Json) => [
          link(`#/operator/${encodeURIComponent(o.address)}`, short(o.address)), amount(o.stake), o.stakeState, o.activeFromPeriod, o.finalPeriod ?? '—',
          num(o.sla ? `${o.sla.percent}%${o.sla.met ? '' : ' (below threshold)'}` : '—', `sla-${o.address}`), o.sla ? o.sla.period : '—']), 'group-operators')),
      chart('Rewards paid per period (EWT)', g.payouts.map((p: Json) => p.period),
        [{ label: 'paid', values: g.payouts.map((p: Json) => asTokens(p.paid)) }, { label: 'due', values: g.payouts.map((p: Json) => asTokens(p.due)) }], 'group-rewards-chart'),
    ];
  },

  async operator([address]) {
    const o = await get(`/api/operators/${encodeURIComponent(address!)}`);
    const out: HTMLElement[] = [
      h('h2', {}, 'Operator'), h('p', { class: 'addr' }, o.address),
      dl([['Worker', o.worker || 'none connected'], ['Unclaimed rewards', amount(o.unclaimed.total, 'unclaimed-total')], ['Current period', num(o.currentPeriod)],
        ['Free', o.account ? amount(o.account.free) : '—'], ['Reserved (stake)', o.account ? amount(o.account.reserved, 'reserved') : '—']], 'operator-summary'),
    ];
    for (const g of o.groups) {
      const periods = g.votes.map((v: Json) => v.period);
      out.push(h('section', { 'aria-label': `group ${g.group}` },
        h('h3', {}, 'In group ', link(`#/group/${encodeURIComponent(g.group)}`, g.group)),
        dl([['Stake', amount(g.stake)], ['Stake state', g.stakeState], ['Active from period', g.activeFromPeriod],
          ['SLA threshold', g.slaThreshold === null ? '—' : `${g.slaThreshold}% of eligible rounds`]]),
        chart(`Votes per period in ${g.group}`, periods, [
          { label: 'eligible', values: g.votes.map((v: Json) => v.eligible) }, { label: 'correct', values: g.votes.map((v: Json) => v.correct) },
          { label: 'missed', values: g.votes.map((v: Json) => v.missed) },
          ...(g.slaThreshold === null ? [] : [{ label: 'SLA line', values: g.votes.map((v: Json) => Math.ceil((v.eligible * g.slaThreshold) / 100)) }])], 'votes-chart'),
        table(`Rewards per closed period in ${g.group}`, ['period', 'SLA met', 'base', 'active', 'total'], g.rewards.map((r: Json) => [
          r.period, r.slaMet ? 'yes' : 'no', amount(r.base), amount(r.active), amount(r.total, `reward-${g.group}-${r.period}`)]), 'rewards-table'),
        h('h4', {}, 'Withdrawal'),
        g.withdrawal
          ? h('ol', { class: 'timeline', 'data-testid': 'withdrawal' }, h('li', {}, `unsubscribed in period ${g.withdrawal.unsubscribedInPeriod}`),
            h('li', {}, `final period ${g.withdrawal.finalPeriod}: earns nothing`), h('li', {}, `stake released when period ${g.withdrawal.releasedAfterPeriod} closes`))
          : h('p', {}, 'No withdrawal under way.')));
    }
    return out;
  },

  async round([solution, roundId]) {
    const base = `/api/rounds/${encodeURIComponent(solution!)}/${encodeURIComponent(roundId!)}`;
    const r = await get(base);
    const s = r.settlement;
    const select = h('select', { id: 'proof-worker' }, ...r.workers.map((w: string) => h('option', { value: w }, short(w))));
    const key = `${solution}/${roundId}`;
    const result = h('p', { id: 'proof-result', role: 'status', 'aria-live': 'polite' });
    if (lastProof?.key === key) { result.dataset.verdict = lastProof.verdict; result.textContent = lastProof.text; }
    const keep = () => { lastProof = { key, verdict: result.dataset.verdict ?? '', text: result.textContent ?? '' }; };
    const button = h('button', { type: 'submit' }, 'Check inclusion');
    const form = h('form', { 'aria-labelledby': 'proof-h' }, h('label', { for: 'proof-worker' }, 'Worker'), select, button, result);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      result.textContent = 'checking…';
      void get(`${base}/proof/${encodeURIComponent((select as HTMLSelectElement).value)}`).then((p) => {
        const ok = checkProof(p, s?.merkleRoot ?? r.merkleRoot);
        result.dataset.verdict = ok.valid ? 'valid' : 'invalid';
        result.textContent = ok.valid ? `✔ included: vote ${p.result} of ${short(p.worker)} hashes up to the Merkle root (${p.steps.length} step(s), checked in this page)` : `✘ not proven: ${ok.reason}`;
        keep();
      }, (e: Error) => { result.dataset.verdict = 'error'; result.textContent = `✘ ${e.message}`; keep(); });
    });
    return [
      h('h2', {}, `Round ${r.solution}/${r.roundId}`),
      dl([['State', num(r.state, 'round-state')], ['Group', link(`#/group/${encodeURIComponent(r.group)}`, r.group)], ['Period', r.period], ['Blocks', `${r.startBlock}–${r.endBlock}`],
        ['Tally', num(`${r.tally.submitted} votes of ${r.tally.eligible} eligible, top ${r.tally.top}`, 'round-tally')],
        ['Result', num(r.result || (r.unresolvedReason ? `unresolved: ${r.unresolvedReason}` : '—'), 'round-result')],
        ['Quorum / threshold', `${r.quorumPercent}% / ${r.voteThresholdPercent}%`], ['Merkle root', h('code', { 'data-testid': 'merkle-root' }, r.merkleRoot || '—')]], 'round-summary'),
      h('section', { 'aria-labelledby': 'att-h' }, h('h3', { id: 'att-h' }, 'Settlement and attestations'),
        s ? dl([['Settlement', s.state], ['Outcome', s.tally ? `${s.tally.outcome} ${s.tally.result}${s.tally.reason ? ` (${s.tally.reason})` : ''}` : '—'], ['Validators', s.validators.length], ['Attestations', num(`${s.attestations.length} (${r.attestationsNeeded} needed)`, 'attestations-count')]]) : h('p', {}, 'Not settled yet.'),
        table('Attestations', ['validator', 'outcome', 'Merkle root', 'dissent'], (s?.attestations ?? []).map((a: Json) => [short(a.validator), a.outcome, h('code', {}, a.merkleRoot.slice(0, 16) + '…'), a.dissent ? 'yes' : 'no']), 'attestations')),
      h('section', {}, h('h3', { id: 'proof-h' }, 'Inclusion proof of a vote'), form),
    ];
  },

  async audit() {
    const r = await fetch('/api/audit', { headers: { accept: 'application/json' } });
    const a = await r.json();
    const form = h('form', { action: '/api/audit/bundle', method: 'get', class: 'bundle', 'aria-labelledby': 'bundle-h' },
      h('label', { for: 'b-operator' }, 'Operator'), h('input', { id: 'b-operator', name: 'operator', required: '', placeholder: 'ed25519:…', autocomplete: 'off' }),
      h('label', { for: 'b-period' }, 'Reward period'), h('input', { id: 'b-period', name: 'period', required: '', type: 'number', min: '0', inputmode: 'numeric' }),
      h('label', { for: 'b-group' }, 'Group (optional)'), h('input', { id: 'b-group', name: 'group', autocomplete: 'off' }),
      h('button', { type: 'submit' }, 'Download bundle'));
    const bundle = h('section', {}, h('h3', { id: 'bundle-h' }, "An operator's audit bundle"),
      h('p', {}, 'One JSON file: its votes with inclusion proofs, the attestations, counts, SLA test and every input of the reward formula; check it offline with ', h('code', {}, 'ewx audit verify-bundle'), '.'), form);
    if (!r.ok) return [h('h2', {}, 'Audit'), h('p', { role: 'status', 'data-testid': 'audit-unavailable' }, a.error), bundle];
    return [
      h('h2', {}, 'Audit'),
      dl([['Logs', a.source], ['Events replayed', num(a.events, 'audit-events')], ['Divergences', num(a.divergences, 'audit-divergences')], ['Notes', num(a.notes)],
        ['Replayed in', `${a.ms} ms`], ['At', a.at]], 'audit-summary'),
      table('Per service', ['service', 'events', 'checks run', 'divergences', 'last position'], a.services.map((x: Json) => [x.service, num(x.events), num(x.checks), num(x.divergences), x.lastPosition]), 'audit-services'),
      table('First divergences', ['service', 'position', 'check', 'message'], a.firstDivergences.map((d: Json) => [d.service, d.position ?? '—', d.check, d.message]), 'audit-first'),
      bundle,
    ];
  },

  async distance([id]) {
    const d = await get(`/api/distance/${encodeURIComponent(id!)}`);
    return [
      h('h2', {}, `Identity ${d.identity}`),
      dl([['Status', num(d.status, 'distance-status')], ['In the web of trust', d.inWot ? 'yes' : 'no'], ['Valid', d.valid ? `yes, until period ${d.validUntilPeriod} (height ${d.validUntilHeight})` : 'no'],
        ['Median of the evaluators', num(`${d.lastMedianPercent}%`, 'distance-median')], ['Pending evaluation period', d.pendingEvaluationPeriod || '—'],
        ['Evaluators who published', d.evaluators ? d.evaluators.publishedBy.map(short).join(', ') || 'nobody yet' : '—'],
        ['Referees', `${d.referees.count} of ${d.referees.members} members (${d.referees.sharePercent}%)`]], 'distance-summary'),
      d.evaluators && d.evaluators.values.length
        ? table(`Values published for period ${d.evaluators.period}${d.evaluators.settled ? ' (settled)' : ''}`, ['evaluator', 'referees reached (%)', 'Perbill'],
          d.evaluators.values.map((v: Json) => [h('span', { title: v.evaluator, 'data-testid': 'distance-evaluator' }, short(v.evaluator)), v.percent === null ? '—' : `${v.percent}%`, v.value ?? '—']), 'distance-values')
        : h('p', { 'data-testid': 'distance-values-none' }, d.evaluators ? `No evaluator has published for period ${d.evaluators.period} yet.` : 'No evaluation pool is kept for this identity (none pending, or its last one is too old).'),
    ];
  },
};

let lastProof: { key: string; verdict: string; text: string } | undefined;
let rendering = false;
let again = false;
async function render(focus: boolean): Promise<void> {
  if (rendering) { again = true; return; }
  rendering = true;
  const [name, ...args] = (location.hash.replace(/^#\/?/, '') || 'network').split('/').map(decodeURIComponent);
  const view = views[name!] ?? views.network!;
  try {
    afterRender = [];
    const nodes = await view(args);
    // A live re-render keeps the keyboard where it was: the focused control is found again by id or link.
    const active = document.activeElement instanceof HTMLElement && main.contains(document.activeElement) ? document.activeElement : undefined;
    const again_ = active?.id ? `#${CSS.escape(active.id)}` : active?.getAttribute('href') ? `a[href="${CSS.escape(active.getAttribute('href')!)}"]` : undefined;
    const selected = document.querySelector<HTMLSelectElement>('#proof-worker')?.value;
    main.replaceChildren(...nodes);
    for (const draw of afterRender) draw();
    if (selected) { const s = document.querySelector<HTMLSelectElement>('#proof-worker'); if (s) s.value = selected; }
    if (!focus && again_) main.querySelector<HTMLElement>(again_)?.focus();
    main.dataset.view = name;
    main.dataset.rendered = String(Number(main.dataset.rendered ?? '0') + 1);
    document.title = `${nodes[0]?.textContent ?? 'EWX'} · EWX dashboard`;
    if (focus) main.focus();
  } catch (e) {
    main.replaceChildren(h('h2', {}, 'Not available'), h('p', { role: 'alert' }, (e as Error).message));
  } finally {
    rendering = false;
    if (again) { again = false; void render(false); }
  }
}

for (const form of document.querySelectorAll<HTMLFormElement>('nav form')) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = (new FormData(form).get('q') as string).trim();
    if (q) location.hash = `#/${form.dataset.view}/${q.split('/').map(encodeURIComponent).join('/')}`;
  });
}
window.addEventListener('hashchange', () => { lastProof = undefined; void render(true); });
void render(false);

const events = new EventSource('/api/events');
events.addEventListener('open', () => { live.textContent = 'live'; });
events.addEventListener('error', () => { live.textContent = 'reconnecting…'; });
events.addEventListener('change', (e) => {
  const d = JSON.parse((e as MessageEvent).data);
  live.textContent = `live · height ${d.services.consensus.height}`;
  // The audit replays every log: it runs when its view is opened, not on each block.
  if (main.dataset.view !== 'audit') void render(false);
});

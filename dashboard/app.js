// The partner dashboard: sign in, choose the acting tenant, then quota, usage, live jobs, who used
// my assets — and the cluster for alliance operators. Everything comes from the public GraphQL
// API (the contract's queries, `tenantJobEvents` and `quotaChanged` over graphql-ws).
import * as echarts from './vendor/echarts.js';
import { ApiError, Session, loadConfig } from './api.js';
import { queueOption, quotaOption, usageOption, utilisationOption } from './charts.js';
import { applyLabels, formatNumber, formatTime, setLanguage, t } from './i18n.js';

const DAY = 86_400_000;
const VIEWER = `{ viewer { username isAllianceAdmin memberships { role tenant { slug name } } } }`;
const QUOTA_FIELDS = 'period budgetUnits usedUnits reservedUnits availableUnits';
const JOB_FIELDS = 'id status pendingReason chargedUnits createdAt progress { total done failed fraction }';
const TENANT_VIEW = `query($from: DateTime!, $to: DateTime!) {
  quota { ${QUOTA_FIELDS} }
  usage(from: $from, to: $to, groupBy: DAY) { key computeUnits breakdown(groupBy: MODEL) { key label computeUnits } }
  jobs(first: 25) { edges { node { ${JOB_FIELDS} } } }
  usageOfMyAssets(from: $from, to: $to) { consumer { slug name } assetName assetType jobs items requests computeUnits }
}`;
const PENDING_JOBS = `{ jobs(first: 100, filter: { status: [PENDING, QUEUED] }) { edges { node { ${JOB_FIELDS} } } } }`;
const JOB = `query($id: ID!) { node(id: $id) { ... on Job { ${JOB_FIELDS} } } }`;
const CLUSTER = `{ cluster { devices { id node kind busy lastHeartbeatAt } pendingJobs runningJobs utilization queues { tenantSlug pendingJobs runningDevices } } }`;
const JOB_EVENTS = `subscription { tenantJobEvents { jobId seq type status message progress { total done failed fraction } } }`;
const QUOTA_CHANGED = `subscription { quotaChanged { ${QUOTA_FIELDS} } }`;

const $ = (id) => document.getElementById(id);
const state = {
  session: null,
  viewer: null,
  quota: null,
  usage: null,
  days: [],
  assets: [],
  cluster: null,
  jobs: new Map(), // job id → latest job shape
  unsubscribe: [],
  timers: [],
  charts: {},
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function show(section) {
  for (const id of ['sign-in', 'choose-tenant', 'tenant-view', 'operator-view']) $(id).hidden = !section.includes(id);
}

function chart(id) {
  state.charts[id] ??= echarts.init($(id), null, { renderer: 'canvas' });
  return state.charts[id];
}

function report(err) {
  const box = $('error');
  box.textContent = err instanceof ApiError ? `${err.code ?? 'ERROR'}: ${err.message}` : String(err?.message ?? err);
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 8_000);
}

// --- sign-in and tenant choice ---

async function start() {
  applyLabels();
  for (const b of document.querySelectorAll('[data-lang]')) b.addEventListener('click', () => { setLanguage(b.dataset.lang); rerender(); });
  state.session = new Session(await loadConfig());
  state.session.onChange((e) => {
    if (e.type === 'signed-out') resetToSignIn();
    if (e.type === 'live') {
      // tenantJobEvents does not replay: after a reconnect, the jobs are read again.
      if (e.up && state.live === false && state.session.tenant) reloadJobs().catch(report);
      state.live = e.up;
      renderLive();
    }
  });
  $('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    $('sign-in-error').textContent = '';
    try {
      await state.session.signIn(String(form.get('username')), String(form.get('password')));
      event.target.reset();
      await afterSignIn();
    } catch (err) {
      $('sign-in-error').textContent = t('signInFailed', { reason: err.message });
    }
  });
  $('sign-out').addEventListener('click', () => state.session.signOut());
  $('tenant-select').addEventListener('change', (e) => chooseTenant(e.target.value));
  window.addEventListener('resize', () => { for (const c of Object.values(state.charts)) c.resize(); });
  if (state.session.signedIn) await afterSignIn().catch(report);
  else show(['sign-in']);
}

function resetToSignIn() {
  stopLive();
  state.viewer = null;
  $('session').hidden = true;
  show(['sign-in']);
}

async function afterSignIn() {
  const { viewer } = await state.session.gql(VIEWER);
  state.viewer = viewer;
  $('who').textContent = viewer.username;
  $('session').hidden = false;
  $('acting').hidden = viewer.memberships.length === 0;
  const select = $('tenant-select');
  select.replaceChildren(...viewer.memberships.map((m) => el('option', { value: m.tenant.slug, text: `${m.tenant.name} (${m.tenant.slug})` })));
  select.hidden = viewer.memberships.length < 2;
  const known = viewer.memberships.find((m) => m.tenant.slug === state.session.tenant);
  if (known) return chooseTenant(known.tenant.slug);
  if (viewer.memberships.length === 1) return chooseTenant(viewer.memberships[0].tenant.slug);
  if (viewer.memberships.length > 1) {
    $('tenant-choices').replaceChildren(...viewer.memberships.map((m) => el('li', {},
      el('button', { type: 'button', 'data-testid': `choose-${m.tenant.slug}`, text: `${m.tenant.name} (${m.tenant.slug}) · ${m.role}` }))));
    for (const [i, b] of [...$('tenant-choices').querySelectorAll('button')].entries()) {
      b.addEventListener('click', () => chooseTenant(viewer.memberships[i].tenant.slug));
    }
    show(['choose-tenant', ...(viewer.isAllianceAdmin ? ['operator-view'] : [])]);
    $('no-tenant').hidden = true;
  } else {
    // An operator with no membership of their own sees the cluster only.
    show(viewer.isAllianceAdmin ? ['operator-view'] : ['choose-tenant']);
    $('tenant-choices').replaceChildren();
    $('no-tenant').hidden = false;
  }
  if (viewer.isAllianceAdmin) startOperator();
}

async function chooseTenant(slug) {
  stopLive();
  state.session.setTenant(slug);
  $('tenant-select').value = slug;
  $('acting-tenant').textContent = slug;
  show(['tenant-view', ...(state.viewer.isAllianceAdmin ? ['operator-view'] : [])]);
  state.jobs.clear();
  await loadTenantView();
  goLive();
  if (state.viewer.isAllianceAdmin) startOperator();
}

// --- the acting tenant's view ---

function window30() {
  const to = new Date(Math.ceil(Date.now() / DAY) * DAY); // end of today (UTC)
  const from = new Date(to.getTime() - 30 * DAY);
  const days = Array.from({ length: 30 }, (_, i) => new Date(from.getTime() + i * DAY).toISOString().slice(0, 10));
  return { from: from.toISOString(), to: to.toISOString(), days };
}

async function loadTenantView() {
  const { from, to, days } = window30();
  const data = await state.session.gql(TENANT_VIEW, { from, to });
  state.quota = data.quota;
  state.usage = data.usage;
  state.days = days;
  state.assets = data.usageOfMyAssets;
  for (const e of data.jobs.edges) state.jobs.set(e.node.id, e.node);
  renderQuota();
  renderUsage();
  renderJobs();
  renderAssets();
}

/** Usage and the assets table change when jobs finish: reloaded at most every few seconds. */
let usageRefreshTimer = null;
function refreshUsageSoon() {
  if (usageRefreshTimer) return;
  usageRefreshTimer = setTimeout(async () => {
    usageRefreshTimer = null;
    const { from, to, days } = window30();
    try {
      const data = await state.session.gql(`query($from: DateTime!, $to: DateTime!) {
        usage(from: $from, to: $to, groupBy: DAY) { key computeUnits breakdown(groupBy: MODEL) { key label computeUnits } }
        usageOfMyAssets(from: $from, to: $to) { consumer { slug name } assetName assetType jobs items requests computeUnits } }`, { from, to });
      Object.assign(state, { usage: data.usage, assets: data.usageOfMyAssets, days });
      renderUsage();
      renderAssets();
    } catch (err) {
      report(err);
    }
  }, 1_500);
}

function renderQuota() {
  const q = state.quota;
  if (!q) return;
  $('quota-period').textContent = t('period', { period: q.period });
  for (const key of ['budget', 'used', 'reserved', 'available']) {
    $(`quota-${key}`).textContent = formatNumber(q[`${key}Units`]);
  }
  chart('quota-chart').setOption(quotaOption(q), true);
}

function renderUsage() {
  if (!state.usage) return;
  $('usage-empty').hidden = state.usage.length > 0;
  chart('usage-chart').setOption(usageOption(state.days, state.usage), true);
}

/** The start of the uuid inside a global id (base64url of "Job:<uuid>"), as people quote job ids. */
function shortId(globalId) {
  try {
    return atob(globalId.replace(/-/g, '+').replace(/_/g, '/')).split(':')[1].slice(0, 8);
  } catch {
    return globalId.slice(0, 8);
  }
}

function jobRow(job) {
  const pct = Math.round(job.progress.fraction * 100);
  const fill = el('div', { class: 'fill' });
  fill.style.width = `${pct}%`;
  const bar = el('div', { class: `bar ${job.status.toLowerCase()}`, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct) }, fill);
  return el('tr', { 'data-testid': 'job-row', dataset: { jobId: job.id, status: job.status } },
    el('td', { class: 'mono', title: job.id, text: shortId(job.id) }),
    el('td', {}, el('span', { class: `status ${job.status.toLowerCase()}`, 'data-testid': 'job-status', text: t(job.status) })),
    el('td', { class: 'progress-cell' }, bar, el('span', { 'data-testid': 'job-progress', text: `${pct}%` }),
      el('small', { text: ` ${job.progress.done + job.progress.failed}/${job.progress.total}` })),
    el('td', { 'data-testid': 'job-pending-reason', text: job.pendingReason ?? '' }),
    el('td', { class: 'num', text: formatNumber(job.chargedUnits) }),
    el('td', { text: formatTime(job.createdAt) }),
  );
}

function renderJobs() {
  const jobs = [...state.jobs.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).slice(0, 50);
  $('jobs-body').replaceChildren(...jobs.map(jobRow));
  $('jobs-empty').hidden = jobs.length > 0;
}

function renderAssets() {
  $('assets-body').replaceChildren(...state.assets.map((a) => el('tr', { 'data-testid': 'asset-row' },
    el('td', { text: `${a.consumer.name} (${a.consumer.slug})` }),
    el('td', { text: a.assetName }),
    el('td', { text: t(a.assetType) }),
    el('td', { class: 'num', text: formatNumber(a.jobs, 0) }),
    el('td', { class: 'num', text: formatNumber(a.items, 0) }),
    el('td', { class: 'num', text: formatNumber(a.requests, 0) }),
    el('td', { class: 'num', text: formatNumber(a.computeUnits) }),
  )));
  $('assets-empty').hidden = state.assets.length > 0;
}

// --- live: job events, quota changes, pending reasons ---

function goLive() {
  const s = state.session;
  state.unsubscribe.push(s.subscribe(JOB_EVENTS, {}, ({ tenantJobEvents: e }) => onJobEvent(e)));
  state.unsubscribe.push(s.subscribe(QUOTA_CHANGED, {}, ({ quotaChanged }) => { state.quota = quotaChanged; renderQuota(); }));
  // Pending reasons change as the scheduler re-plans, without a job event: ask for them.
  state.timers.push(setInterval(() => refreshPendingReasons().catch(() => {}), 3_000));
}

async function reloadJobs() {
  const data = await state.session.gql(`{ jobs(first: 25) { edges { node { ${JOB_FIELDS} } } } }`);
  for (const e of data.jobs.edges) state.jobs.set(e.node.id, { ...state.jobs.get(e.node.id), ...e.node });
  renderJobs();
}

async function refreshPendingReasons() {
  if (![...state.jobs.values()].some((j) => j.status === 'PENDING' || j.status === 'QUEUED')) return;
  const data = await state.session.gql(PENDING_JOBS);
  for (const e of data.jobs.edges) state.jobs.set(e.node.id, { ...state.jobs.get(e.node.id), ...e.node });
  renderJobs();
}

async function onJobEvent(e) {
  const known = state.jobs.get(e.jobId);
  if (!known) {
    // A job submitted after the page loaded (by the CLI, the API or a colleague).
    try {
      const { node } = await state.session.gql(JOB, { id: e.jobId });
      if (node) state.jobs.set(node.id, node);
    } catch (err) {
      report(err);
    }
  }
  const job = state.jobs.get(e.jobId);
  if (!job) return;
  // Events can overtake the fetch above; the newest seq wins.
  if ((job.seq ?? 0) > e.seq) return;
  Object.assign(job, { seq: e.seq, status: e.status, progress: e.progress });
  if (e.status !== 'PENDING') job.pendingReason = null;
  renderJobs();
  if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(e.status)) {
    state.session.gql(JOB, { id: e.jobId }).then(({ node }) => { if (node) { Object.assign(job, node); renderJobs(); } }).catch(() => {});
    refreshUsageSoon();
  }
}

function stopLive() {
  for (const u of state.unsubscribe.splice(0)) u();
  for (const timer of state.timers.splice(0)) clearInterval(timer);
}

// --- operator view (alliance administrators) ---

let operatorTimer = null;
function startOperator() {
  clearInterval(operatorTimer);
  const load = async () => {
    try {
      state.cluster = (await state.session.gql(CLUSTER)).cluster;
      renderCluster();
    } catch (err) {
      report(err);
    }
  };
  load();
  operatorTimer = setInterval(load, 5_000);
}

function renderCluster() {
  const c = state.cluster;
  if (!c) return;
  $('cluster-pending').textContent = formatNumber(c.pendingJobs, 0);
  $('cluster-running').textContent = formatNumber(c.runningJobs, 0);
  chart('utilisation-chart').setOption(utilisationOption(c.utilization), true);
  chart('queue-chart').setOption(queueOption(c.queues), true);
  $('devices-body').replaceChildren(...c.devices.map((d) => el('tr', { 'data-testid': 'device-row' },
    el('td', { text: d.node }),
    el('td', { text: d.kind }),
    el('td', {}, el('span', { class: `status ${d.busy ? 'running' : 'idle'}`, text: t(d.busy ? 'busy' : 'idle') })),
    el('td', { text: formatTime(d.lastHeartbeatAt) }),
  )));
}

function renderLive() {
  $('live').textContent = state.live === undefined ? '' : t(state.live ? 'live' : 'offline');
}

/** After a language switch: everything code drew with t() is drawn again. */
function rerender() {
  renderLive();
  renderQuota();
  renderUsage();
  if (state.viewer && state.session?.tenant) {
    renderJobs();
    renderAssets();
  }
  renderCluster();
}

start().catch(report);

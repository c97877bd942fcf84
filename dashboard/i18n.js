// Labels in English and Simplified Chinese (the alliance works in Chinese). Elements carry
// data-i18n="key" (text) or data-i18n-placeholder="key"; code calls t('key', {n: 1}).
const LABELS = {
  en: {
    title: 'Partner dashboard',
    subtitle: 'Alliance Hub',
    signIn: 'Sign in',
    signInTitle: 'Sign in with your alliance account',
    signOut: 'Sign out',
    username: 'Username',
    password: 'Password',
    signInFailed: 'Sign-in failed: {reason}',
    chooseTenant: 'Choose the organisation to act for',
    actingFor: 'Acting for',
    noTenant: 'You belong to no organisation yet.',
    quota: 'Compute quota',
    period: 'Period {period}',
    budget: 'Budget',
    used: 'Used',
    reserved: 'Reserved',
    available: 'Available',
    units: 'compute units',
    usage: 'Usage, last 30 days',
    usageByModel: 'Compute units per day, by model',
    computeUnits: 'Compute units',
    jobs: 'Jobs',
    live: 'live',
    offline: 'reconnecting…',
    job: 'Job',
    status: 'Status',
    progress: 'Progress',
    pendingReason: 'Waiting because',
    charged: 'Charged',
    created: 'Submitted',
    noJobs: 'No jobs yet.',
    assets: 'Who used my datasets and models (30 days)',
    consumer: 'Member',
    asset: 'Asset',
    kind: 'Kind',
    items: 'Items',
    requests: 'Requests',
    noAssetUse: 'No other member used your datasets or models in this period.',
    Dataset: 'Dataset',
    Model: 'Model',
    operator: 'Cluster — operator view',
    devices: 'Devices',
    node: 'Node',
    deviceKind: 'Accelerator',
    busy: 'busy',
    idle: 'idle',
    heartbeat: 'Last heartbeat',
    utilisation: 'Utilisation',
    queues: 'Queue by member',
    pendingJobs: 'Waiting jobs',
    runningJobs: 'Running jobs',
    runningDevices: 'Devices in use',
    noData: 'No data yet.',
    PENDING: 'pending',
    QUEUED: 'queued',
    RUNNING: 'running',
    SUCCEEDED: 'succeeded',
    FAILED: 'failed',
    CANCELLED: 'cancelled',
  },
  'zh-CN': {
    title: '合作伙伴控制台',
    subtitle: '联盟算力与数据平台',
    signIn: '登录',
    signInTitle: '使用联盟账号登录',
    signOut: '退出登录',
    username: '用户名',
    password: '密码',
    signInFailed: '登录失败：{reason}',
    chooseTenant: '请选择要代表的机构',
    actingFor: '当前机构',
    noTenant: '您尚未加入任何机构。',
    quota: '算力配额',
    period: '周期 {period}',
    budget: '预算',
    used: '已用',
    reserved: '预留',
    available: '可用',
    units: '算力单位',
    usage: '近 30 天用量',
    usageByModel: '每日算力用量（按模型）',
    computeUnits: '算力单位',
    jobs: '任务',
    live: '实时',
    offline: '正在重连…',
    job: '任务',
    status: '状态',
    progress: '进度',
    pendingReason: '等待原因',
    charged: '已计费',
    created: '提交时间',
    noJobs: '暂无任务。',
    assets: '谁使用了我的数据集和模型（30 天）',
    consumer: '使用方',
    asset: '资产',
    kind: '类型',
    items: '条目',
    requests: '请求',
    noAssetUse: '本期间没有其他成员使用您的数据集或模型。',
    Dataset: '数据集',
    Model: '模型',
    operator: '集群（运维视图）',
    devices: '设备',
    node: '节点',
    deviceKind: '加速器',
    busy: '忙碌',
    idle: '空闲',
    heartbeat: '最近心跳',
    utilisation: '利用率',
    queues: '各成员队列',
    pendingJobs: '等待中的任务',
    runningJobs: '运行中的任务',
    runningDevices: '占用设备',
    noData: '暂无数据。',
    PENDING: '等待中',
    QUEUED: '已排队',
    RUNNING: '运行中',
    SUCCEEDED: '已完成',
    FAILED: '失败',
    CANCELLED: '已取消',
  },
};

export const LANGUAGES = Object.keys(LABELS);
let language = pickLanguage();

function pickLanguage() {
  const saved = globalThis.localStorage?.getItem('alliance-hub.lang');
  if (saved && LABELS[saved]) return saved;
  return (globalThis.navigator?.language ?? '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function currentLanguage() {
  return language;
}

export function t(key, params = {}) {
  const text = LABELS[language][key] ?? LABELS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

/** Switches language and relabels the page; listeners re-render what code drew (charts, rows). */
export function setLanguage(lang, root = document) {
  if (!LABELS[lang]) return;
  language = lang;
  globalThis.localStorage?.setItem('alliance-hub.lang', lang);
  applyLabels(root);
}

export function applyLabels(root = document) {
  document.documentElement.lang = language;
  document.title = `${t('title')} · Alliance Hub`;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-lang]')) el.setAttribute('aria-pressed', String(el.dataset.lang === language));
}

/** Numbers and times in the page's language. */
export function formatNumber(n, digits = 3) {
  return new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(n);
}

export function formatTime(iso) {
  return new Intl.DateTimeFormat(language, { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(iso));
}

// A searchable time-zone picker: an ARIA combobox over every IANA zone the browser knows plus cities that are not
// zone names ("Mumbai" → Asia/Kolkata, "San Francisco" → America/Los_Angeles) and Korean city names ("서울",
// "뉴욕"), searched by city, zone id or UTC offset ("UTC+9", "+05:30"). The input holds the zone id once one is
// chosen; ↑/↓ move through the matches, Enter or a click chooses, Escape closes the list.
import { t, getLang } from './i18n.js';
import { h, uid, field } from './ui.js';
import { allZones, utcLabel, isValidZone } from './time.js';

/** Cities by their English and Korean names, with their zone. */
const CITIES = [
  ['San Francisco', '샌프란시스코', 'America/Los_Angeles'], ['Seattle', '시애틀', 'America/Los_Angeles'],
  ['Los Angeles', '로스앤젤레스', 'America/Los_Angeles'], ['Washington', '워싱턴', 'America/New_York'],
  ['Boston', '보스턴', 'America/New_York'], ['New York', '뉴욕', 'America/New_York'], ['Atlanta', '애틀랜타', 'America/New_York'],
  ['Chicago', '시카고', 'America/Chicago'], ['Dallas', '댈러스', 'America/Chicago'], ['Houston', '휴스턴', 'America/Chicago'],
  ['Austin', '오스틴', 'America/Chicago'], ['Denver', '덴버', 'America/Denver'], ['Phoenix', '피닉스', 'America/Phoenix'],
  ['Toronto', '토론토', 'America/Toronto'], ['Montreal', '몬트리올', 'America/Toronto'], ['Vancouver', '밴쿠버', 'America/Vancouver'],
  ['Mexico City', '멕시코시티', 'America/Mexico_City'], ['São Paulo', '상파울루', 'America/Sao_Paulo'],
  ['Buenos Aires', '부에노스아이레스', 'America/Argentina/Buenos_Aires'], ['Honolulu', '호놀룰루', 'Pacific/Honolulu'],
  ['Anchorage', '앵커리지', 'America/Anchorage'], ['London', '런던', 'Europe/London'], ['Dublin', '더블린', 'Europe/Dublin'],
  ['Lisbon', '리스본', 'Europe/Lisbon'], ['Paris', '파리', 'Europe/Paris'], ['Berlin', '베를린', 'Europe/Berlin'],
  ['Munich', '뮌헨', 'Europe/Berlin'], ['Frankfurt', '프랑크푸르트', 'Europe/Berlin'], ['Amsterdam', '암스테르담', 'Europe/Amsterdam'],
  ['Brussels', '브뤼셀', 'Europe/Brussels'], ['Madrid', '마드리드', 'Europe/Madrid'], ['Barcelona', '바르셀로나', 'Europe/Madrid'],
  ['Rome', '로마', 'Europe/Rome'], ['Milan', '밀라노', 'Europe/Rome'], ['Zurich', '취리히', 'Europe/Zurich'],
  ['Geneva', '제네바', 'Europe/Zurich'], ['Vienna', '빈', 'Europe/Vienna'], ['Prague', '프라하', 'Europe/Prague'],
  ['Warsaw', '바르샤바', 'Europe/Warsaw'], ['Stockholm', '스톡홀름', 'Europe/Stockholm'], ['Oslo', '오슬로', 'Europe/Oslo'],
  ['Copenhagen', '코펜하겐', 'Europe/Copenhagen'], ['Helsinki', '헬싱키', 'Europe/Helsinki'], ['Athens', '아테네', 'Europe/Athens'],
  ['Istanbul', '이스탄불', 'Europe/Istanbul'], ['Moscow', '모스크바', 'Europe/Moscow'], ['Kyiv', '키이우', 'Europe/Kyiv'],
  ['Cairo', '카이로', 'Africa/Cairo'], ['Johannesburg', '요하네스버그', 'Africa/Johannesburg'],
  ['Lagos', '라고스', 'Africa/Lagos'], ['Nairobi', '나이로비', 'Africa/Nairobi'], ['Dubai', '두바이', 'Asia/Dubai'],
  ['Abu Dhabi', '아부다비', 'Asia/Dubai'], ['Tehran', '테헤란', 'Asia/Tehran'], ['Mumbai', '뭄바이', 'Asia/Kolkata'],
  ['New Delhi', '뉴델리', 'Asia/Kolkata'], ['Bengaluru', '벵갈루루', 'Asia/Kolkata'], ['Bangalore', '방갈로르', 'Asia/Kolkata'],
  ['Chennai', '첸나이', 'Asia/Kolkata'], ['Kathmandu', '카트만두', 'Asia/Kathmandu'], ['Dhaka', '다카', 'Asia/Dhaka'],
  ['Bangkok', '방콕', 'Asia/Bangkok'], ['Hanoi', '하노이', 'Asia/Bangkok'], ['Ho Chi Minh City', '호찌민', 'Asia/Ho_Chi_Minh'],
  ['Jakarta', '자카르타', 'Asia/Jakarta'], ['Singapore', '싱가포르', 'Asia/Singapore'], ['Kuala Lumpur', '쿠알라룸푸르', 'Asia/Kuala_Lumpur'],
  ['Manila', '마닐라', 'Asia/Manila'], ['Hong Kong', '홍콩', 'Asia/Hong_Kong'], ['Taipei', '타이베이', 'Asia/Taipei'],
  ['Beijing', '베이징', 'Asia/Shanghai'], ['Shanghai', '상하이', 'Asia/Shanghai'], ['Shenzhen', '선전', 'Asia/Shanghai'],
  ['Seoul', '서울', 'Asia/Seoul'], ['Busan', '부산', 'Asia/Seoul'], ['Incheon', '인천', 'Asia/Seoul'], ['Daejeon', '대전', 'Asia/Seoul'],
  ['Tokyo', '도쿄', 'Asia/Tokyo'], ['Osaka', '오사카', 'Asia/Tokyo'], ['Sydney', '시드니', 'Australia/Sydney'],
  ['Melbourne', '멜버른', 'Australia/Melbourne'], ['Brisbane', '브리즈번', 'Australia/Brisbane'], ['Perth', '퍼스', 'Australia/Perth'],
  ['Auckland', '오클랜드', 'Pacific/Auckland'],
];

const SHOWN = 40; // matches listed at once
let options = null;

/** "+09:00" → 540; the offsets typed as "UTC+9", "+9", "gmt-5", "+05:30". */
function typedOffset(q) {
  const m = /^(?:utc|gmt)?\s*([+-−])\s*(\d{1,2})(?::?(\d{2}))?$/i.exec(q.trim());
  if (!m) return null;
  const minutes = Number(m[2]) * 60 + Number(m[3] || 0);
  return m[1] === '+' ? minutes : -minutes;
}

/** Every choice: {zone, city, label, words, offset (minutes)}. Built once. */
function allOptions() {
  if (options) return options;
  const zones = allZones();
  const known = new Set(zones);
  const offsetOf = new Map();
  const minutes = (zone) => {
    if (!offsetOf.has(zone)) {
      const label = utcLabel(zone);
      const m = /UTC([+-])(\d{2}):(\d{2})/.exec(label);
      offsetOf.set(zone, m ? (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3])) : 0);
    }
    return offsetOf.get(zone);
  };
  const ko = getLang() === 'ko';
  const out = zones.map((zone) => {
    const city = zone === 'UTC' ? 'UTC' : zone.split('/').pop().replace(/_/g, ' ');
    return { zone, city, words: `${city} ${zone}`.toLowerCase(), offset: minutes(zone) };
  });
  for (const [en, kr, zone] of CITIES) {
    if (!known.has(zone) && !isValidZone(zone)) continue;
    const same = out.find((o) => o.zone === zone && o.city === en);
    if (same) { same.words += ` ${kr}`; if (ko) same.city = kr; continue; }
    out.push({ zone, city: ko ? kr : en, words: `${en} ${kr} ${zone}`.toLowerCase(), offset: minutes(zone) });
  }
  for (const o of out) o.label = `${o.city} — ${o.zone} (${utcLabel(o.zone)})`;
  options = out;
  return out;
}

/** The choices matching `query`, best first: the city starting with it, then a word starting with it, then anywhere. */
export function matchZones(query) {
  const q = query.trim().toLowerCase();
  const all = allOptions();
  if (!q) return all.slice(0, SHOWN);
  const offset = typedOffset(q);
  if (offset != null) return all.filter((o) => o.offset === offset).slice(0, SHOWN);
  const rank = (o) => {
    const city = o.city.toLowerCase();
    if (city === q || o.zone.toLowerCase() === q) return 0;
    if (city.startsWith(q)) return 1;
    if (o.words.split(/[\s/]+/).some((w) => w.startsWith(q))) return 2;
    return o.words.includes(q) ? 3 : 9;
  };
  return all.map((o) => [rank(o), o]).filter(([r]) => r < 9).sort((a, b) => a[0] - b[0] || a[1].city.localeCompare(b[1].city))
    .map(([, o]) => o).slice(0, SHOWN);
}

/**
 * The picker as a form field (field()): the input is `.input`; its value is the zone id once chosen (typed text
 * otherwise: `resolve()` gives the zone it names — a valid id, or the only match — or '').
 */
export function zonePicker(label, value, { hint } = {}) {
  const listId = uid('zones');
  const input = h('input', {
    type: 'text', value, autocomplete: 'off', spellcheck: 'false', role: 'combobox',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
  });
  const list = h('ul', { class: 'zone-list', role: 'listbox', id: listId, hidden: true, 'aria-label': t('zone.listLabel') });
  const status = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  const wrap = field(label, input, { hint });
  wrap.classList.add('zone-field');
  wrap.insertBefore(h('div', { class: 'zone-pop' }, list, status), input.nextSibling);
  let shown = [];
  let active = -1;

  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };
  const choose = (o) => {
    input.value = o.zone;
    close();
    input.dispatchEvent(new Event('change', { bubbles: true }));
  };
  const highlight = (i) => {
    active = i;
    [...list.children].forEach((li, n) => li.setAttribute('aria-selected', String(n === i)));
    const li = list.children[i];
    if (li) { input.setAttribute('aria-activedescendant', li.id); li.scrollIntoView({ block: 'nearest' }); }
  };
  const open = () => {
    shown = matchZones(input.value === value && isValidZone(input.value) ? '' : input.value);
    list.replaceChildren(...shown.map((o, i) => h('li', {
      role: 'option', id: `${listId}-${i}`, 'aria-selected': 'false', class: 'zone-option',
      onmousedown: (e) => e.preventDefault(), // keep the focus in the input
      onclick: () => choose(o),
    }, o.label)));
    list.hidden = !shown.length;
    input.setAttribute('aria-expanded', String(shown.length > 0));
    active = -1;
    input.removeAttribute('aria-activedescendant');
    status.textContent = shown.length ? t('zone.matches', { n: shown.length }) : t('zone.noMatch');
  };
  input.addEventListener('input', open);
  input.addEventListener('focus', () => { if (input.value !== value) open(); });
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (list.hidden) open();
      if (!shown.length) return;
      highlight(e.key === 'ArrowDown' ? (active + 1) % shown.length : (active <= 0 ? shown.length : active) - 1);
    } else if (e.key === 'Enter' && !list.hidden && active >= 0) {
      e.preventDefault();
      choose(shown[active]);
    } else if (e.key === 'Escape' && !list.hidden) {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  });
  wrap.input = input;
  wrap.resolve = () => {
    const text = input.value.trim();
    if (isValidZone(text) && (text === 'UTC' || text.includes('/'))) return text;
    const found = matchZones(text);
    return found.length === 1 || (found[0] && found[0].city.toLowerCase() === text.toLowerCase()) ? found[0].zone : '';
  };
  wrap.set = (zone) => { input.value = zone; value = zone; close(); };
  return wrap;
}

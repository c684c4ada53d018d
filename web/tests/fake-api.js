// An in-memory fake of the task API (/v2/**) and the push API (/v0/push/**), written from the reference
// contract (docs/contract/task.md, docs/contract/notification.md): used only with PINIT_WEB_FAKE_API=1 to
// exercise the client while those services are being built. Auth (/v0/signup, login, refresh, ...) always stays real.
import { createECDH } from 'node:crypto';

const pad = (n) => String(n).padStart(2, '0');
const civil = (d) => Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10));
const addDays = (d, n) => { const x = new Date(civil(d) + n * 86400000); return `${x.getUTCFullYear()}-${pad(x.getUTCMonth() + 1)}-${pad(x.getUTCDate())}`; };
const monday = (d) => addDays(d, -((new Date(civil(d)).getUTCDay() + 6) % 7));
const iso = (seconds) => `PT${Math.max(0, Math.round(seconds))}S`;
const parseIso = (s) => Number(/PT(\d+)S/.exec(s || '')?.[1] || 0);

function wallNow(zone) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(new Date()).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

export async function installFakeApi(context) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const state = {
    zone: 'Asia/Seoul', running: null, taskSeq: 0, scheduleSeq: 0,
    tasks: new Map(), edges: [], schedules: new Map(), devices: new Map(), pushCalls: [],
    vapid: ecdh.getPublicKey().toString('base64url'),
    reminders: ['PT0S'],
    quiet: { enabled: false, start: '22:00', end: '07:00', zoneId: 'Asia/Seoul', mode: 'hold', includeAtStart: true },
  };
  const error = (status, message, errors = []) => ({ status, body: { timestamp: new Date().toISOString(), status, error: 'Error', message, path: '', errors } });
  const badReminders = (list) => (list !== undefined && list !== null && (!Array.isArray(list) || list.length > 5)
    ? error(400, 'Validation failed for 1 field(s)', [{ field: 'reminders', rejectedValue: list, reason: 'at most 5 offsets' }]) : null);
  const today = () => wallNow(state.zone).slice(0, 10);

  const taskOut = (t) => ({
    ...t,
    inboundDependencyCount: state.edges.filter((e) => e.toId === t.id && !state.tasks.get(e.fromId)?.completed).length,
    previousTaskIds: state.edges.filter((e) => e.toId === t.id).map((e) => e.fromId),
    nextTaskIds: state.edges.filter((e) => e.fromId === t.id).map((e) => e.toId),
  });
  const scheduleOut = (s) => ({ ...s, duration: iso(s.elapsed), taskCompleted: s.taskId ? Boolean(state.tasks.get(s.taskId)?.completed) : null, elapsed: undefined, runningSince: undefined });
  const validTask = (b) => b?.title?.trim() && b.title.length <= 20 && b?.description?.trim() && b.description.length <= 100 && b?.dueDate?.date && b.importance >= 1 && b.importance <= 9 && [1, 2, 3, 5, 8, 13, 21].includes(b.difficulty);

  function newSchedule(b, taskId = null) {
    const id = ++state.scheduleSeq;
    const now = new Date().toISOString();
    const s = { id, ownerId: 1, taskId, title: b.title, description: b.description, date: { dateTime: b.date.dateTime.length === 16 ? `${b.date.dateTime}:00` : b.date.dateTime, zoneId: b.date.zoneId }, scheduleType: b.scheduleType, state: 'NOT_STARTED', elapsed: 0, reminders: b.reminders ?? null, createdAt: now, updatedAt: now };
    state.schedules.set(id, s);
    return s;
  }
  const stop = (s) => { if (s.runningSince) { s.elapsed += (Date.now() - s.runningSince) / 1000; s.runningSince = null; } };

  function handle(method, url, body) {
    const p = url.pathname;
    const q = url.searchParams;
    let m;
    // members
    if (p === '/v2/members/now' && method === 'GET') return { status: 200, body: state.running ?? '' };
    if (p === '/v2/members/zone-id' && method === 'GET') return { status: 200, text: state.zone };
    if (p === '/v2/members/zone-id' && method === 'PUT') { state.zone = body.zoneId; return { status: 204 }; }
    if (p === '/v2/members/reminders' && method === 'GET') return { status: 200, body: { reminders: state.reminders } };
    if (p === '/v2/members/reminders' && method === 'PUT') {
      const bad = badReminders(body?.reminders ?? 'missing');
      if (bad) return bad;
      state.reminders = body.reminders;
      return { status: 200, body: { reminders: state.reminders } };
    }
    // statistics
    if (p === '/v2/statistics') {
      const start = monday(q.get('time').slice(0, 10));
      const sums = { DEEP_WORK: 0, ADMIN_TASK: 0, total: 0 };
      for (const s of state.schedules.values()) {
        if (s.state !== 'COMPLETED' || monday(s.date.dateTime.slice(0, 10)) !== start) continue;
        if (s.scheduleType in sums) sums[s.scheduleType] += s.elapsed;
        sums.total += s.elapsed;
      }
      return { status: 200, body: { memberId: 1, startOfWeek: { dateTime: `${start}T00:00:00`, zoneId: state.zone }, deepWorkElapsedTime: iso(sums.DEEP_WORK), adminWorkElapsedTime: iso(sums.ADMIN_TASK), totalWorkElapsedTime: iso(sums.total) } };
    }
    // tasks
    if (p === '/v2/tasks' && method === 'GET') {
      const page = Number(q.get('page') || 0);
      const size = Number(q.get('size') || 20);
      const ready = q.get('readyOnly') === 'true';
      const all = [...state.tasks.values()].map(taskOut)
        .filter((t) => (ready ? !t.completed && t.inboundDependencyCount === 0 : !t.completed || t.dueDate.date >= today()))
        .sort((a, b) => a.dueDate.date.localeCompare(b.dueDate.date) || a.id - b.id);
      const content = all.slice(page * size, page * size + size);
      const totalPages = Math.ceil(all.length / size);
      return { status: 200, body: { content, number: page, size, totalElements: all.length, totalPages, first: page === 0, last: page >= totalPages - 1, numberOfElements: content.length, empty: !content.length } };
    }
    if (p === '/v2/tasks/completed') {
      const size = Number(q.get('size') || 20);
      const [cd, cid] = (q.get('cursor') || `${addDays(today(), 0)}|${Number.MAX_SAFE_INTEGER}`).split('|');
      const rows = [...state.tasks.values()].map(taskOut)
        .filter((t) => t.completed && t.dueDate.date <= addDays(today(), -1))
        .sort((a, b) => b.dueDate.date.localeCompare(a.dueDate.date) || b.id - a.id)
        .filter((t) => t.dueDate.date < cd || (t.dueDate.date === cd && t.id < Number(cid)));
      const data = rows.slice(0, size);
      const hasNext = rows.length > size;
      return { status: 200, body: { data, hasNext, nextCursor: hasNext ? `${data.at(-1).dueDate.date}|${data.at(-1).id}` : null } };
    }
    if (p === '/v2/tasks' && method === 'POST') {
      if (!validTask(body)) return error(400, 'Validation failed for 1 field(s)');
      const id = ++state.taskSeq;
      const now = new Date().toISOString();
      state.tasks.set(id, { id, ownerId: 1, title: body.title, description: body.description, dueDate: { ...body.dueDate }, importance: body.importance, difficulty: body.difficulty, completed: false, createdAt: now, updatedAt: now });
      for (const d of body.addDependencies || []) state.edges.push({ fromId: d.fromId || id, toId: d.toId || id });
      return { status: 201, body: { ...taskOut(state.tasks.get(id)), previousTaskIds: [], nextTaskIds: [] } };
    }
    if ((m = /^\/v2\/tasks\/(\d+)(\/\w+)?$/.exec(p))) {
      const task = state.tasks.get(Number(m[1]));
      if (!task) return error(404, '해당 작업을 찾을 수 없습니다.');
      const sub = m[2];
      if (!sub && method === 'GET') return { status: 200, body: taskOut(task) };
      if (!sub && method === 'PATCH') {
        if (!validTask(body)) return error(400, 'Validation failed for 1 field(s)');
        Object.assign(task, { title: body.title, description: body.description, dueDate: body.dueDate, importance: body.importance, difficulty: body.difficulty, updatedAt: new Date().toISOString() });
        for (const d of body.removeDependencies || []) state.edges = state.edges.filter((e) => !(e.fromId === d.fromId && e.toId === d.toId));
        for (const d of body.addDependencies || []) state.edges.push({ fromId: d.fromId, toId: d.toId });
        return { status: 200, body: { ...taskOut(task), previousTaskIds: [], nextTaskIds: [] } };
      }
      if (!sub && method === 'DELETE') { state.tasks.delete(task.id); state.edges = state.edges.filter((e) => e.fromId !== task.id && e.toId !== task.id); return { status: 204 }; }
      if (sub === '/complete') { task.completed = true; return { status: 204 }; }
      if (sub === '/reopen') { task.completed = false; return { status: 204 }; }
      if (sub === '/schedules' && method === 'POST') {
        if ([...state.schedules.values()].some((s) => s.taskId === task.id)) return error(409, '해당 작업에 이미 연결된 일정이 존재합니다.');
        const s = newSchedule({ title: body.title || task.title, description: body.description || task.description, date: body.date, scheduleType: body.scheduleType }, task.id);
        return { status: 201, body: scheduleOut(s) };
      }
    }
    // schedules
    if (p === '/v2/schedules' && method === 'POST') {
      if (!body?.title?.trim() || body.title.length > 20 || !body?.description?.trim() || !body?.date?.dateTime || !body.scheduleType) return error(400, '제목의 길이는 1자 이상 20자 이하여야 합니다.');
      if (badReminders(body.reminders)) return badReminders(body.reminders);
      return { status: 201, body: scheduleOut(newSchedule(body)) };
    }
    if ((p === '/v2/schedules' || p === '/v2/schedules/week') && method === 'GET') {
      const date = q.get('time').slice(0, 10);
      const from = p.endsWith('week') ? monday(date) : date;
      const to = p.endsWith('week') ? addDays(from, 7) : addDays(date, 1);
      return { status: 200, body: [...state.schedules.values()].filter((s) => s.date.dateTime.slice(0, 10) >= from && s.date.dateTime.slice(0, 10) < to).map(scheduleOut) };
    }
    if ((m = /^\/v2\/schedules\/(\d+)(\/\w+)?$/.exec(p))) {
      const s = state.schedules.get(Number(m[1]));
      if (!s) return error(404, '해당 일정을 찾을 수 없습니다.');
      const sub = m[2];
      const touch = () => { s.updatedAt = new Date().toISOString(); };
      if (!sub && method === 'GET') return { status: 200, body: scheduleOut(s) };
      if (!sub && method === 'PATCH') {
        if (s.state !== 'NOT_STARTED') return error(409, '시작되지 않은 일정만 수정할 수 있습니다.');
        if (badReminders(body.reminders)) return badReminders(body.reminders);
        for (const k of ['title', 'description', 'scheduleType', 'date', 'reminders']) if (body[k] !== undefined) s[k] = body[k];
        touch();
        return { status: 200, body: scheduleOut(s) };
      }
      if (!sub && method === 'DELETE') {
        if (s.state === 'IN_PROGRESS' || s.state === 'SUSPENDED') return error(409, '시작되지 않았거나 완료된 일정만 삭제할 수 있습니다.');
        state.schedules.delete(s.id);
        return { status: 204 };
      }
      if (sub === '/start') {
        if (s.state === 'IN_PROGRESS' || s.state === 'COMPLETED') return error(409, '진행 중인 일정을 다시 시작할 수 없습니다.');
        if (state.running && state.running !== s.id) return error(409, '이미 실행 중인 일정이 존재합니다.');
        s.state = 'IN_PROGRESS'; s.runningSince = Date.now(); state.running = s.id; touch();
        return { status: 204 };
      }
      if (sub === '/suspend') {
        if (s.state !== 'IN_PROGRESS') return error(409, '시작되지 않은 일정을 일시정지할 수 없습니다.');
        stop(s); s.state = 'SUSPENDED'; touch();
        return { status: 204 };
      }
      if (sub === '/complete') {
        if (s.state === 'SUSPENDED' || s.state === 'COMPLETED') return error(409, '일시정지된 일정을 즉시 완료할 수 없습니다.');
        stop(s); s.state = 'COMPLETED'; if (state.running === s.id) state.running = null; touch();
        if (s.taskId && state.tasks.get(s.taskId)) state.tasks.get(s.taskId).completed = true;
        return { status: 204 };
      }
      if (sub === '/cancel') {
        if (s.state === 'NOT_STARTED') return error(409, '시작되지 않은 일정을 취소할 수 없습니다.');
        s.runningSince = null; s.state = 'NOT_STARTED'; if (state.running === s.id) state.running = null; touch();
        if (s.taskId && state.tasks.get(s.taskId)) state.tasks.get(s.taskId).completed = false;
        return { status: 204 };
      }
    }
    // push
    if (p === '/v0/push/vapid') return { status: 200, text: state.vapid };
    if (p === '/v0/push/subscribed') return { status: 200, body: state.devices.has(q.get('deviceId')) };
    if (p === '/v0/push/subscribe') { state.pushCalls.push(['subscribe', body]); state.devices.set(body.deviceId, body); return { status: 200 }; }
    if (p === '/v0/push/quiet-hours' && method === 'GET') return { status: 200, body: state.quiet };
    if (p === '/v0/push/quiet-hours' && method === 'PUT') {
      if (body.start === body.end) return error(400, 'Validation failed for 1 field(s)', [{ field: 'end', rejectedValue: body.end, reason: 'must differ from start (the window would be empty)', code: 'QUIET_EMPTY' }]);
      state.quiet = { ...body };
      return { status: 200, body: state.quiet };
    }
    if ((m = /^\/v0\/push\/reminders\/([^/]+)\/snooze$/.exec(p)) && method === 'POST') {
      if (!(body?.minutes >= 5 && body.minutes <= 120)) return error(400, 'Validation failed for 1 field(s)', [{ field: 'minutes', rejectedValue: body?.minutes, reason: '5 to 120', code: 'SNOOZE_MINUTES' }]);
      return { status: 202, body: { key: `${decodeURIComponent(m[1])}:snooze:1`, dueAt: new Date(Date.now() + body.minutes * 60_000).toISOString() } };
    }
    if (p === '/v0/push/unsubscribe') { state.pushCalls.push(['unsubscribe', body]); state.devices.delete(body.deviceId); return { status: 200 }; }
    return error(404, `No resource at ${p}.`);
  }

  const route = async (r) => {
    const request = r.request();
    if (!request.headers().authorization) {
      await r.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ message: 'Invalid or missing token' }) });
      return;
    }
    let body;
    try { body = request.postDataJSON(); } catch { body = undefined; }
    const out = handle(request.method(), new URL(request.url()), body);
    if (out.text !== undefined) await r.fulfill({ status: out.status, contentType: 'text/plain', body: out.text });
    else if (out.body === undefined) await r.fulfill({ status: out.status, body: '' });
    else await r.fulfill({ status: out.status, contentType: 'application/json', body: out.body === '' ? '' : JSON.stringify(out.body) });
  };
  await context.route('**/v2/**', route);
  await context.route('**/v0/push/**', route);
  return state;
}

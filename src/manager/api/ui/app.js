// The Shoal dashboard: plain browser JavaScript, no build step. It reads the
// same API as the CLI (relative paths: the manager, or `shoal dashboard`'s
// proxy, serves this page), follows GET /events to refresh when anything
// changes, and asks for a confirmation before every action.

const $ = (s, el = document) => el.querySelector(s);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!r.ok) throw new Error((data && data.message) || `${r.status} ${r.statusText}`);
  return data;
}

const view = { nodes: [], services: [], tasks: [], health: null, error: '' };

function bytes(n) {
  if (!n) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${u[i]}`;
}

function modeOf(s) {
  const m = s.Spec.Mode;
  return m.Global ? 'global' : m.ReplicatedJob ? 'replicated job' : m.GlobalJob ? 'global job' : 'replicated';
}

function renderHealth() {
  const h = view.health;
  const byId = new Map(view.nodes.map((n) => [n.ID, n]));
  const name = (id) => byId.get(id)?.Description?.Hostname ?? id?.slice(0, 12) ?? '-';
  if (!h) return;
  $('#cluster').textContent = `leader: ${h.LeaderID ? name(h.LeaderID) : 'none'} · term ${h.Raft.term} · commit ${h.Raft.commit}`;
  const managers = h.Managers.map((m) => `<li>${esc(name(m.NodeID))} <span class="${m.Reachable ? 'ok' : 'bad'}">${m.Reachable ? 'reachable' : 'unreachable'}</span>${m.NodeID === h.LeaderID ? ' (leader)' : ''}${m.Voter ? '' : ' (learner)'}</li>`).join('');
  const gossip = (h.Gossip ?? []).map((g) => `<li>${esc(name(g.NodeID))} ${esc(g.Addr)} <span class="${g.State === 'alive' ? 'ok' : g.State === 'suspect' ? 'warn' : 'bad'}">${esc(g.State)}</span></li>`).join('');
  $('#health').innerHTML = `<div><b>Raft</b>: term ${h.Raft.term}, commit ${h.Raft.commit}, applied ${h.Raft.applied} (as ${esc(name(h.NodeID))} sees it)</div>
    <h3>Raft members</h3><ul id="managers">${managers}</ul>
    <h3>Gossip view of ${esc(name(h.NodeID))}</h3><ul id="gossip">${gossip || '<li>-</li>'}</ul>`;
  const pending = view.tasks.filter((t) => t.Status.State === 'pending' && t.DesiredState === 'running');
  $('#pending').innerHTML = pending.length === 0 ? '<p>none</p>' : `<ul>${pending.map((t) => `<li>${esc(serviceName(t.ServiceID))}.${t.Slot || t.NodeID.slice(0, 12)}: ${esc(t.Status.Message)}</li>`).join('')}</ul>`;
}

function serviceName(id) {
  return view.services.find((s) => s.ID === id)?.Spec.Name ?? id.slice(0, 12);
}

function renderServices() {
  const rows = view.services
    .slice()
    .sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name))
    .map((s) => {
      const st = s.ServiceStatus ?? { RunningTasks: 0, DesiredTasks: 0 };
      const live = view.tasks.filter((t) => t.ServiceID === s.ID && t.DesiredState === 'running' && t.Status.State === 'running');
      const health = { healthy: 0, unhealthy: 0, starting: 0 };
      for (const t of view.tasks.filter((x) => x.ServiceID === s.ID && x.DesiredState === 'running')) {
        const hs = t.Status.ContainerStatus?.Health?.Status;
        if (hs) health[hs] = (health[hs] ?? 0) + 1;
      }
      const healthText = health.healthy + health.unhealthy + health.starting === 0 ? `${live.length} running` : `<span class="ok">${health.healthy} healthy</span>${health.unhealthy ? ` <span class="bad">${health.unhealthy} unhealthy</span>` : ''}${health.starting ? ` <span class="warn">${health.starting} starting</span>` : ''}`;
      const ok = st.RunningTasks === st.DesiredTasks;
      const replicated = !!s.Spec.Mode.Replicated;
      return `<tr data-service="${esc(s.Spec.Name)}">
        <td>${esc(s.Spec.Name)}</td><td>${modeOf(s)}</td>
        <td class="replicas ${ok ? 'ok' : 'warn'}" data-replicas="${st.RunningTasks}/${st.DesiredTasks}">${st.RunningTasks}/${st.DesiredTasks}</td>
        <td>${esc(s.Spec.TaskTemplate.ContainerSpec?.Image || '-')}</td>
        <td>${esc(s.UpdateStatus ? `${s.UpdateStatus.State}${s.UpdateStatus.Message ? `: ${s.UpdateStatus.Message}` : ''}` : '')}</td>
        <td>${healthText}</td>
        <td>${replicated ? `<button data-action="scale" data-id="${s.ID}">Scale</button>` : ''} ${s.PreviousSpec ? `<button data-action="rollback" data-id="${s.ID}">Roll back</button>` : ''}</td></tr>`;
    });
  $('#services tbody').innerHTML = rows.join('') || '<tr><td colspan="7">no services</td></tr>';
}

function renderNodes() {
  const rows = view.nodes
    .slice()
    .sort((a, b) => (a.Description?.Hostname ?? '').localeCompare(b.Description?.Hostname ?? ''))
    .map((n) => {
      const running = view.tasks.filter((t) => t.NodeID === n.ID && t.Status.State === 'running').length;
      const r = n.Description?.Resources ?? {};
      const active = n.Spec.Availability === 'active';
      return `<tr data-node="${esc(n.Description?.Hostname)}">
        <td>${esc(n.Description?.Hostname)}</td><td>${esc(n.Spec.Role)}</td>
        <td class="${n.Status.State === 'ready' ? 'ok' : 'bad'}">${esc(n.Status.State)}</td><td class="availability">${esc(n.Spec.Availability)}</td>
        <td>${esc(n.ManagerStatus ? (n.ManagerStatus.Leader ? 'Leader' : n.ManagerStatus.Reachability) : '')}</td>
        <td>${r.NanoCPUs ? r.NanoCPUs / 1e9 : ''}</td><td>${bytes(r.MemoryBytes)}</td><td>${running}</td>
        <td><button data-action="${active ? 'drain' : 'activate'}" data-id="${n.ID}">${active ? 'Drain' : 'Activate'}</button></td></tr>`;
    });
  $('#nodes tbody').innerHTML = rows.join('');
}

function renderTasks() {
  const byId = new Map(view.nodes.map((n) => [n.ID, n]));
  const shown = view.tasks
    .filter((t) => t.DesiredState === 'running' || ['failed', 'rejected'].includes(t.Status.State))
    .sort((a, b) => serviceName(a.ServiceID).localeCompare(serviceName(b.ServiceID)) || a.Slot - b.Slot || b.CreatedAt.localeCompare(a.CreatedAt))
    .slice(0, 200);
  $('#tasks tbody').innerHTML = shown
    .map((t) => {
      const cls = t.Status.State === 'running' ? 'ok' : ['failed', 'rejected'].includes(t.Status.State) ? 'bad' : 'warn';
      return `<tr><td>${esc(serviceName(t.ServiceID))}.${t.Slot || esc(t.NodeID.slice(0, 12))}</td><td class="${cls}">${esc(t.Status.State)}</td><td>${esc(t.DesiredState)}</td>
        <td>${esc(byId.get(t.NodeID)?.Description?.Hostname ?? '')}</td><td class="error">${esc(t.Status.Err ?? '')}</td></tr>`;
    })
    .join('');
}

let refreshing = null;
let again = false;
async function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      const [nodes, services, tasks, health] = await Promise.all([api('GET', '/nodes'), api('GET', '/services?status=true'), api('GET', '/tasks'), api('GET', '/shoal/health')]);
      Object.assign(view, { nodes, services, tasks, health });
      renderHealth();
      renderServices();
      renderNodes();
      renderTasks();
      document.body.dataset.loaded = 'true';
    } catch (err) {
      $('#cluster').textContent = `cannot read the cluster: ${err.message}`;
    }
  })();
  await refreshing;
  refreshing = null;
  if (again) {
    again = false;
    await refresh();
  }
}

let timer = null;
const soon = () => {
  clearTimeout(timer);
  timer = setTimeout(refresh, 150);
};

/** GET /events, resumed after the last event seen (its Raft position) whenever the stream breaks. */
async function follow() {
  let after = '';
  for (;;) {
    try {
      const r = await fetch(`/events${after ? `?after=${after}` : ''}`);
      if (!r.ok) throw new Error(`${r.status}`);
      $('#live').textContent = 'live';
      $('#live').className = 'badge';
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const e = JSON.parse(line);
          after = `${e.RaftIndex}.${e.Seq}`;
          soon();
          // The list shows what people do; task moves are in the Tasks table.
          if (e.Type === 'task') continue;
          const li = document.createElement('li');
          li.textContent = `${new Date(e.time * 1000).toLocaleTimeString()} ${e.Type} ${e.Action} ${e.Actor.Attributes.name || e.Actor.ID.slice(0, 12)}`;
          $('#events').prepend(li);
          while ($('#events').children.length > 30) $('#events').lastChild.remove();
        }
      }
    } catch {
      // the manager went away: say so, and try again
    }
    $('#live').textContent = 'reconnecting…';
    $('#live').className = 'badge off';
    await new Promise((res) => setTimeout(res, 1000));
    soon();
  }
}

/** One confirmation dialog for every action; `input` asks for a number first. */
function confirmAction({ title, text, input, run }) {
  const dlg = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-error').textContent = '';
  $('#confirm-field').hidden = input === undefined;
  if (input !== undefined) $('#confirm-input').value = String(input);
  dlg.returnValue = '';
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'ok') return;
    try {
      await run(input === undefined ? undefined : Number($('#confirm-input').value));
      soon();
    } catch (err) {
      $('#confirm-error').textContent = err.message;
      dlg.showModal();
    }
  };
  dlg.showModal();
}

document.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const id = b.dataset.id;
  const action = b.dataset.action;
  if (action === 'scale') {
    const s = view.services.find((x) => x.ID === id);
    confirmAction({
      title: `Scale ${s.Spec.Name}`,
      text: 'How many replicas should run?',
      input: s.Spec.Mode.Replicated.Replicas ?? 1,
      run: async (n) => {
        if (!Number.isInteger(n) || n < 0) throw new Error('replicas must be a whole number, 0 or more');
        const cur = await api('GET', `/services/${id}`);
        cur.Spec.Mode.Replicated.Replicas = n;
        await api('POST', `/services/${id}/update?version=${cur.Version.Index}`, cur.Spec);
      },
    });
  } else if (action === 'rollback') {
    const s = view.services.find((x) => x.ID === id);
    confirmAction({
      title: `Roll back ${s.Spec.Name}`,
      text: 'Return the service to its previous spec?',
      run: async () => {
        const cur = await api('GET', `/services/${id}`);
        await api('POST', `/services/${id}/update?version=${cur.Version.Index}&rollback=previous`, cur.Spec);
      },
    });
  } else if (action === 'drain' || action === 'activate') {
    const n = view.nodes.find((x) => x.ID === id);
    confirmAction({
      title: `${action === 'drain' ? 'Drain' : 'Activate'} ${n.Description?.Hostname}`,
      text: action === 'drain' ? 'Its tasks move to other nodes, and no new task is placed on it.' : 'New tasks may be placed on it again.',
      run: async () => {
        const cur = await api('GET', `/nodes/${id}`);
        await api('POST', `/nodes/${id}/update?version=${cur.Version.Index}`, { ...cur.Spec, Availability: action === 'drain' ? 'drain' : 'active' });
      },
    });
  }
});

refresh();
follow();

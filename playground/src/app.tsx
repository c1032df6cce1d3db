/**
 * The playground: schema editor with live diagnostics, the model graph, relationships and attributes tables,
 * permission queries with an explain view, and validation-file scenarios. Everything goes through the
 * server's public REST API (api.ts) on the tenant shown in the header.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Diagnostic } from '@codemirror/lint';
import { ApiError, createApiClient, offsetOf, parseSchemaError, tenantPath, type ApiClient } from './api.js';
import {
  ATTRIBUTE_TYPES,
  attributeTypeOf,
  attributeValue,
  formatAttributeValue,
  formatSubject,
  formatTuple,
  formatAttribute,
  parseEntity,
  parseSubject,
  parseSubjectReference,
  parseTuple,
  type Attribute,
  type AttributeType,
  type Tuple,
} from './notation.js';
import { SchemaEditor } from './schema-editor.js';
import { expandText, type ExpandTreeNode } from './expand-model.js';
import { ModelGraph } from './model-graph.js';
import type { SchemaDefinition } from './schema-graph.js';
import { ExplainView, type ExplainState } from './explain-view.js';
import {
  exportValidationFile,
  loadValidationFile,
  parseValidationFile,
  runScenarios,
  type AssertionResult,
  type ValidationFile,
} from './scenario.js';

const SAMPLE_SCHEMA = `entity user {}

entity organization {
  relation admin @user
  relation member @user
}

entity document {
  relation org @organization
  relation owner @user
  relation viewer @user
  attribute public boolean

  permission edit = owner or org.admin
  permission view = viewer or edit or public
}
`;

const TOKEN_KEY = 'permify-playground-token';
const TENANT_KEY = 'permify-playground-tenant';

const randomId = (): string => Math.random().toString(36).slice(2, 10);

function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.code === 16 ? `authentication required: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/yaml' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Reads every page of relationships or attributes of each entity type. */
async function readAll<T>(
  api: ApiClient,
  tenant: string,
  route: string,
  types: string[],
  snapToken: string,
  key: 'tuples' | 'attributes',
): Promise<T[]> {
  const out: T[] = [];
  for (const type of types) {
    let token = '';
    do {
      const r = await api.call<Record<string, unknown>>(tenantPath(tenant, route), {
        metadata: { snap_token: snapToken },
        filter: { entity: { type, ids: [] } },
        page_size: 100,
        continuous_token: token,
      });
      out.push(...((r[key] as T[] | undefined) ?? []));
      token = (r['continuous_token'] as string | undefined) ?? '';
    } while (token !== '');
  }
  return out;
}

export function App() {
  const [token, setToken] = useState(() => localStorage.getItem(TOKEN_KEY) ?? '');
  const tokenRef = useRef(token);
  tokenRef.current = token;
  const api = useMemo(() => createApiClient(() => tokenRef.current), []);
  const [authRequired, setAuthRequired] = useState(false);
  const [tenant, setTenant] = useState(() => localStorage.getItem(TENANT_KEY) ?? 't1');
  const [tenantInput, setTenantInput] = useState(tenant);
  const [schemaVersion, setSchemaVersion] = useState('');
  const [snapToken, setSnapToken] = useState('');
  const [schemaText, setSchemaText] = useState(SAMPLE_SCHEMA);
  const [editorLoad, setEditorLoad] = useState({ text: SAMPLE_SCHEMA, seq: 0 });
  const schemaTextRef = useRef(schemaText);
  schemaTextRef.current = schemaText;
  const [liveSchema, setLiveSchema] = useState<SchemaDefinition | undefined>(undefined);
  const [storedSchema, setStoredSchema] = useState<SchemaDefinition | undefined>(undefined);
  const [diagnostics, setDiagnostics] = useState<{ line: number; column: number; message: string }[]>([]);
  const [status, setStatus] = useState('');
  const [tuples, setTuples] = useState<Tuple[]>([]);
  const [attributes, setAttributes] = useState<Attribute[]>([]);

  /**
   * A 401 for the token in the field now. One for a request sent before the token was entered (a lint or a
   * load still under way) must not mark the new token as refused.
   */
  const refused = useCallback(
    (e: unknown): boolean => e instanceof ApiError && e.code === 16 && e.token === tokenRef.current.trim(),
    [],
  );
  const note = useCallback(
    (e: unknown) => {
      if (refused(e)) setAuthRequired(true);
      setStatus(errorText(e));
    },
    [refused],
  );

  // Live diagnostics compile the editor's text on a scratch tenant of this page, so typing never creates
  // schema versions in the tenant being worked on.
  const scratch = useRef<{ id: string; ready: Promise<void> } | null>(null);
  const scratchTenant = useCallback(async (): Promise<string> => {
    if (!scratch.current) {
      const id = `playground-${randomId()}`;
      const ready = api
        .call(`/v1/tenants/create`, { id, name: 'playground scratch (diagnostics)' })
        .then(() => undefined);
      scratch.current = { id, ready };
      ready.catch(() => (scratch.current = null));
    }
    await scratch.current.ready;
    return scratch.current.id;
  }, [api]);
  useEffect(() => {
    const drop = (): void => {
      if (!scratch.current) return;
      const headers: Record<string, string> = tokenRef.current ? { Authorization: `Bearer ${tokenRef.current}` } : {};
      void fetch(`/v1/tenants/${scratch.current.id}`, { method: 'DELETE', headers, keepalive: true }).catch(
        () => undefined,
      );
    };
    addEventListener('pagehide', drop);
    return () => removeEventListener('pagehide', drop);
  }, []);

  const lint = useCallback(
    async (text: string): Promise<Diagnostic[]> => {
      try {
        const t = await scratchTenant();
        const w = await api.call<{ schema_version: string }>(tenantPath(t, 'schemas/write'), { schema: text });
        const r = await api.call<{ schema: SchemaDefinition }>(tenantPath(t, 'schemas/read'), {
          metadata: { schema_version: w.schema_version },
        });
        setLiveSchema(r.schema);
        setDiagnostics([]);
        setAuthRequired(false);
        return [];
      } catch (e) {
        if (refused(e)) setAuthRequired(true);
        const located = e instanceof ApiError ? parseSchemaError(e.message) : undefined;
        const d = located ?? { line: 1, column: 2, message: errorText(e) };
        setDiagnostics([d]);
        const from = offsetOf(text, d.line, d.column);
        // Mark the word at the position (or one character), clamped to the text.
        const rest = /^[\w@#.]+/.exec(text.slice(from))?.[0].length ?? 1;
        return [
          {
            from: Math.min(from, text.length),
            to: Math.min(from + rest, text.length),
            severity: 'error',
            message: `${d.line}:${d.column}: ${d.message}`,
          },
        ];
      }
    },
    [api, scratchTenant, refused],
  );

  const entityTypes = useMemo(() => Object.keys(storedSchema?.entity_definitions ?? {}), [storedSchema]);

  const reloadData = useCallback(
    async (types: string[], snap: string) => {
      try {
        setTuples(await readAll<Tuple>(api, tenant, 'data/relationships/read', types, snap, 'tuples'));
        setAttributes(await readAll<Attribute>(api, tenant, 'data/attributes/read', types, snap, 'attributes'));
      } catch (e) {
        note(e);
      }
    },
    [api, tenant, note],
  );

  /** Loads the tenant's head schema (or keeps the editor's text when it has none) and its data. */
  const loadTenant = useCallback(async () => {
    try {
      const r = await api.call<{ schema: SchemaDefinition }>(tenantPath(tenant, 'schemas/read'), {
        metadata: { schema_version: '' },
      });
      const list = await api.call<{ head: string }>(tenantPath(tenant, 'schemas/list'), { page_size: 1 });
      setStoredSchema(r.schema);
      setSchemaVersion(list.head);
      setStatus(`tenant ${tenant}: schema ${list.head}`);
      await reloadData(Object.keys(r.schema.entity_definitions ?? {}), '');
    } catch (e) {
      if (e instanceof ApiError && e.code === 5) {
        setStoredSchema(undefined);
        setSchemaVersion('');
        setTuples([]);
        setAttributes([]);
        setStatus(`tenant ${tenant} has no schema yet: edit and save one`);
        return;
      }
      note(e);
    }
  }, [api, tenant, reloadData, note]);

  useEffect(() => {
    void loadTenant();
  }, [loadTenant]);

  const saveSchema = useCallback(async () => {
    try {
      const w = await api.call<{ schema_version: string }>(tenantPath(tenant, 'schemas/write'), {
        schema: schemaTextRef.current,
      });
      const r = await api.call<{ schema: SchemaDefinition }>(tenantPath(tenant, 'schemas/read'), {
        metadata: { schema_version: w.schema_version },
      });
      setSchemaVersion(w.schema_version);
      setStoredSchema(r.schema);
      setAuthRequired(false);
      setStatus(`schema saved: version ${w.schema_version}`);
      await reloadData(Object.keys(r.schema.entity_definitions ?? {}), snapToken);
    } catch (e) {
      note(e);
    }
  }, [api, tenant, snapToken, reloadData, note]);

  const writeData = useCallback(
    async (body: { tuples?: Tuple[]; attributes?: Attribute[] }, remove?: { tuple?: Tuple; attribute?: Attribute }) => {
      try {
        let snap = snapToken;
        if (remove?.tuple || remove?.attribute) {
          const t = remove.tuple;
          const a = remove.attribute;
          // Data.Delete requires both filters; an empty one (no criterion) deletes nothing.
          const r = await api.call<{ snap_token: string }>(tenantPath(tenant, 'data/delete'), {
            tuple_filter: t
              ? {
                  entity: { type: t.entity.type, ids: [t.entity.id] },
                  relation: t.relation,
                  subject: { type: t.subject.type, ids: [t.subject.id], relation: t.subject.relation },
                }
              : {},
            attribute_filter: a
              ? { entity: { type: a.entity.type, ids: [a.entity.id] }, attributes: [a.attribute] }
              : {},
          });
          snap = r.snap_token;
        }
        if ((body.tuples?.length ?? 0) + (body.attributes?.length ?? 0) > 0) {
          const r = await api.call<{ snap_token: string }>(tenantPath(tenant, 'data/write'), {
            metadata: { schema_version: schemaVersion },
            tuples: body.tuples ?? [],
            attributes: body.attributes ?? [],
          });
          snap = r.snap_token;
        }
        setSnapToken(snap);
        setStatus('data written');
        await reloadData(entityTypes, snap);
        return true;
      } catch (e) {
        note(e);
        return false;
      }
    },
    [api, tenant, schemaVersion, snapToken, entityTypes, reloadData, note],
  );

  const switchTenant = (id: string): void => {
    const t = id.trim();
    if (t === '') return;
    localStorage.setItem(TENANT_KEY, t);
    setTenant(t);
    setTenantInput(t);
    setSnapToken('');
  };

  const newTenant = async (): Promise<void> => {
    const id = `playground-${randomId()}`;
    try {
      await api.call('/v1/tenants/create', { id, name: 'playground' });
      switchTenant(id);
    } catch (e) {
      note(e);
    }
  };

  return (
    <div class="page">
      <header>
        <h1>permify-ts playground</h1>
        <label>
          tenant{' '}
          <input
            data-testid="tenant"
            value={tenantInput}
            onInput={(e) => setTenantInput(e.currentTarget.value)}
            onKeyDown={(e) => e.key === 'Enter' && switchTenant(tenantInput)}
            onBlur={() => switchTenant(tenantInput)}
          />
        </label>
        <button onClick={() => void newTenant()}>new tenant</button>
        <span class="version" data-testid="schema-version">
          schema version: <code>{schemaVersion || '—'}</code>
        </span>
        <label class={authRequired ? 'token required' : 'token'}>
          {authRequired ? 'this server requires a token: ' : 'token '}
          <input
            data-testid="token"
            type="password"
            placeholder="bearer token (when authentication is on)"
            value={token}
            onInput={(e) => {
              const v = e.currentTarget.value;
              setToken(v);
              localStorage.setItem(TOKEN_KEY, v);
            }}
            onChange={() => void loadTenant()}
          />
        </label>
      </header>
      <p class="status" data-testid="status">
        {status}
      </p>
      <main>
        <section class="panel schema">
          <h2>
            Schema{' '}
            <button data-testid="save-schema" onClick={() => void saveSchema()} disabled={diagnostics.length > 0}>
              save to tenant (Ctrl-S)
            </button>
          </h2>
          <SchemaEditor load={editorLoad} onChange={setSchemaText} lint={lint} onSave={() => void saveSchema()} />
          <ul class="diagnostics" data-testid="diagnostics">
            {diagnostics.map((d) => (
              <li class="error">
                line {d.line}, column {d.column}: {d.message}
              </li>
            ))}
            {diagnostics.length === 0 ? <li class="ok">no errors</li> : null}
          </ul>
        </section>
        <section class="panel model">
          <h2>Model</h2>
          <ModelGraph schema={liveSchema ?? storedSchema} />
        </section>
        <section class="panel data">
          <h2>Data</h2>
          <RelationshipsTable tuples={tuples} write={writeData} onError={note} />
          <AttributesTable attributes={attributes} write={writeData} onError={note} />
        </section>
        <section class="panel queries">
          <h2>Queries</h2>
          <Queries api={api} tenant={tenant} schemaVersion={schemaVersion} snapToken={snapToken} />
        </section>
        <section class="panel scenarios" data-testid="scenarios-panel">
          <h2>Scenarios</h2>
          <Scenarios
            api={api}
            schemaText={schemaText}
            tuples={tuples}
            attributes={attributes}
            onLoaded={(file, at, t) => {
              switchTenant(t);
              setSchemaText(file.schema);
              setEditorLoad((l) => ({ text: file.schema, seq: l.seq + 1 }));
              setSchemaVersion(at.schemaVersion);
              setSnapToken(at.snapToken);
            }}
            onError={note}
          />
        </section>
      </main>
    </div>
  );
}

type WriteData = (
  body: { tuples?: Tuple[]; attributes?: Attribute[] },
  remove?: { tuple?: Tuple; attribute?: Attribute },
) => Promise<boolean>;

function RelationshipsTable(props: { tuples: Tuple[]; write: WriteData; onError: (e: unknown) => void }) {
  const [draft, setDraft] = useState('');
  const [editing, setEditing] = useState<{ index: number; text: string } | null>(null);
  const add = async (): Promise<void> => {
    try {
      const lines = draft
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      if (await props.write({ tuples: lines.map(parseTuple) })) setDraft('');
    } catch (e) {
      props.onError(e);
    }
  };
  const save = async (old: Tuple, text: string): Promise<void> => {
    try {
      if (await props.write({ tuples: [parseTuple(text)] }, { tuple: old })) setEditing(null);
    } catch (e) {
      props.onError(e);
    }
  };
  return (
    <div>
      <h3>Relationships</h3>
      <table data-testid="relationships">
        <thead>
          <tr>
            <th>entity</th>
            <th>relation</th>
            <th>subject</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.tuples.map((t, i) =>
            editing?.index === i ? (
              <tr>
                <td colSpan={3}>
                  <input
                    class="wide"
                    value={editing.text}
                    onInput={(e) => setEditing({ index: i, text: e.currentTarget.value })}
                    onKeyDown={(e) => e.key === 'Enter' && void save(t, editing.text)}
                  />
                </td>
                <td>
                  <button onClick={() => void save(t, editing.text)}>save</button>
                  <button onClick={() => setEditing(null)}>cancel</button>
                </td>
              </tr>
            ) : (
              <tr data-tuple={formatTuple(t)}>
                <td>
                  {t.entity.type}:{t.entity.id}
                </td>
                <td>{t.relation}</td>
                <td>{formatSubject(t.subject)}</td>
                <td>
                  <button onClick={() => setEditing({ index: i, text: formatTuple(t) })}>edit</button>
                  <button onClick={() => void props.write({}, { tuple: t })}>delete</button>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
      <div class="row">
        <textarea
          data-testid="new-relationships"
          rows={2}
          placeholder="document:1#viewer@user:alice (one per line)"
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button data-testid="add-relationships" onClick={() => void add()}>
          add
        </button>
      </div>
    </div>
  );
}

function AttributesTable(props: { attributes: Attribute[]; write: WriteData; onError: (e: unknown) => void }) {
  const [entity, setEntity] = useState('');
  const [name, setName] = useState('');
  const [type, setType] = useState<AttributeType>('boolean');
  const [value, setValue] = useState('true');
  const add = async (): Promise<void> => {
    try {
      const a: Attribute = { entity: parseEntity(entity), attribute: name.trim(), value: attributeValue(type, value) };
      if (await props.write({ attributes: [a] })) {
        setEntity('');
        setName('');
      }
    } catch (e) {
      props.onError(e);
    }
  };
  return (
    <div>
      <h3>Attributes</h3>
      <table data-testid="attributes">
        <thead>
          <tr>
            <th>entity</th>
            <th>attribute</th>
            <th>type</th>
            <th>value</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.attributes.map((a) => (
            <tr>
              <td>
                {a.entity.type}:{a.entity.id}
              </td>
              <td>{a.attribute}</td>
              <td>{attributeTypeOf(a.value)}</td>
              <td>
                <input
                  value={formatAttributeValue(a.value)}
                  onChange={(e) => {
                    try {
                      void props.write({
                        attributes: [{ ...a, value: attributeValue(attributeTypeOf(a.value), e.currentTarget.value) }],
                      });
                    } catch (err) {
                      props.onError(err);
                    }
                  }}
                />
              </td>
              <td>
                <button onClick={() => void props.write({}, { attribute: a })}>delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="row">
        <input
          data-testid="new-attribute-entity"
          placeholder="document:1"
          value={entity}
          onInput={(e) => setEntity(e.currentTarget.value)}
        />
        <input
          data-testid="new-attribute-name"
          placeholder="attribute"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <select value={type} onChange={(e) => setType(e.currentTarget.value as AttributeType)}>
          {ATTRIBUTE_TYPES.map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
        <input
          data-testid="new-attribute-value"
          placeholder="value"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button data-testid="add-attribute" onClick={() => void add()}>
          add
        </button>
      </div>
    </div>
  );
}

type QueryKind = 'check' | 'lookup-entity' | 'lookup-subject' | 'subject-permission' | 'expand';

function Queries(props: { api: ApiClient; tenant: string; schemaVersion: string; snapToken: string }) {
  const [kind, setKind] = useState<QueryKind>('check');
  const [entity, setEntity] = useState('document:1');
  const [entityType, setEntityType] = useState('document');
  const [permission, setPermission] = useState('view');
  const [subject, setSubject] = useState('user:alice');
  const [subjectRef, setSubjectRef] = useState('user');
  const [contextData, setContextData] = useState('');
  const [contextTuples, setContextTuples] = useState('');
  const [result, setResult] = useState<{ ok: boolean; text: string; allowed?: boolean } | null>(null);
  const [explain, setExplain] = useState<ExplainState>({ kind: 'none' });

  const run = async (): Promise<void> => {
    const { api, tenant } = props;
    const metadata = { schema_version: props.schemaVersion, snap_token: props.snapToken, depth: 50 };
    try {
      const data = contextData.trim() === '' ? {} : (JSON.parse(contextData) as unknown);
      const context = {
        tuples: contextTuples
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '')
          .map(parseTuple),
        attributes: [],
        data,
      };
      if (kind === 'check') {
        const body = {
          metadata,
          entity: parseEntity(entity),
          permission: permission.trim(),
          subject: parseSubject(subject),
          context,
        };
        try {
          const r = await api.call<{ can?: string; metadata?: { check_count?: number } }>(
            tenantPath(tenant, 'permissions/check'),
            body,
          );
          const allowed = r.can === 'CHECK_RESULT_ALLOWED';
          setResult({
            ok: true,
            allowed,
            text: `${allowed ? 'ALLOWED' : 'DENIED'} (${r.metadata?.check_count ?? 0} checks)`,
          });
        } catch (e) {
          // A failing check (depth exhausted, rule error) is still explained: the tree shows where it failed.
          setResult({ ok: false, text: errorText(e) });
        }
        try {
          const x = await api.call(tenantPath(tenant, 'permissions/explain'), body);
          setExplain({ kind: 'ok', response: x });
        } catch (e) {
          // Until a server has the Explain API, its route is unknown (404 Not Found) or UNIMPLEMENTED.
          const missing =
            e instanceof ApiError &&
            (e.code === 12 || e.status === 501 || (e.status === 404 && e.message === 'Not Found'));
          setExplain(missing ? { kind: 'unavailable' } : { kind: 'error', message: errorText(e) });
        }
        return;
      }
      setExplain({ kind: 'none' });
      if (kind === 'lookup-entity') {
        const r = await api.call<{ entity_ids?: string[] }>(tenantPath(tenant, 'permissions/lookup-entity'), {
          metadata,
          entity_type: entityType.trim(),
          permission: permission.trim(),
          subject: parseSubject(subject),
          context,
        });
        setResult({ ok: true, text: `entity ids: ${(r.entity_ids ?? []).join(', ') || '(none)'}` });
      } else if (kind === 'lookup-subject') {
        const r = await api.call<{ subject_ids?: string[] }>(tenantPath(tenant, 'permissions/lookup-subject'), {
          metadata,
          entity: parseEntity(entity),
          permission: permission.trim(),
          subject_reference: parseSubjectReference(subjectRef),
          context,
        });
        setResult({ ok: true, text: `subject ids: ${(r.subject_ids ?? []).join(', ') || '(none)'}` });
      } else if (kind === 'subject-permission') {
        const r = await api.call<{ results?: Record<string, string> }>(
          tenantPath(tenant, 'permissions/subject-permission'),
          {
            metadata,
            entity: parseEntity(entity),
            subject: parseSubject(subject),
            context,
          },
        );
        const lines = Object.entries(r.results ?? {}).map(
          ([k, v]) => `${k}: ${v === 'CHECK_RESULT_ALLOWED' ? 'allowed' : 'denied'}`,
        );
        setResult({ ok: true, text: lines.join('\n') || '(no permissions)' });
      } else {
        const r = await api.call<{ tree?: ExpandTreeNode }>(tenantPath(tenant, 'permissions/expand'), {
          metadata: { schema_version: props.schemaVersion, snap_token: props.snapToken },
          entity: parseEntity(entity),
          permission: permission.trim(),
          context,
        });
        setResult({ ok: true, text: r.tree ? expandText(r.tree).join('\n') : '(empty tree)' });
      }
    } catch (e) {
      setResult({ ok: false, text: errorText(e) });
    }
  };

  const field = (label: string, value: string, set: (v: string) => void, testid: string) => (
    <label>
      {label} <input data-testid={testid} value={value} onInput={(e) => set(e.currentTarget.value)} />
    </label>
  );
  return (
    <div>
      <div class="tabs" role="tablist">
        {(['check', 'lookup-entity', 'lookup-subject', 'subject-permission', 'expand'] as QueryKind[]).map((k) => (
          <button role="tab" class={k === kind ? 'active' : ''} data-testid={`tab-${k}`} onClick={() => setKind(k)}>
            {k.replace('-', ' ')}
          </button>
        ))}
      </div>
      <div class="form">
        {kind === 'lookup-entity'
          ? field('entity type', entityType, setEntityType, 'q-entity-type')
          : field('entity', entity, setEntity, 'q-entity')}
        {kind !== 'subject-permission' ? field('permission', permission, setPermission, 'q-permission') : null}
        {kind === 'lookup-subject' ? field('subject reference', subjectRef, setSubjectRef, 'q-subject-ref') : null}
        {kind !== 'lookup-subject' && kind !== 'expand' ? field('subject', subject, setSubject, 'q-subject') : null}
        <label>
          context data (JSON){' '}
          <input
            data-testid="q-context-data"
            placeholder='{"ip": "10.0.0.1"}'
            value={contextData}
            onInput={(e) => setContextData(e.currentTarget.value)}
          />
        </label>
        <label>
          contextual tuples{' '}
          <textarea
            rows={1}
            placeholder="document:1#viewer@user:x"
            value={contextTuples}
            onInput={(e) => setContextTuples(e.currentTarget.value)}
          />
        </label>
        <button data-testid="run-query" onClick={() => void run()}>
          run
        </button>
      </div>
      {result ? (
        <pre
          class={result.ok ? (result.allowed === false ? 'result denied' : 'result') : 'result error'}
          data-testid="query-result"
        >
          {result.text}
        </pre>
      ) : null}
      <h3>Explain</h3>
      <ExplainView state={explain} />
    </div>
  );
}

function Scenarios(props: {
  api: ApiClient;
  schemaText: string;
  tuples: Tuple[];
  attributes: Attribute[];
  onLoaded: (file: ValidationFile, at: { schemaVersion: string; snapToken: string }, tenant: string) => void;
  onError: (e: unknown) => void;
}) {
  const [text, setText] = useState('');
  const [file, setFile] = useState<ValidationFile | null>(null);
  const [results, setResults] = useState<AssertionResult[]>([]);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState('');

  const importText = async (yaml: string): Promise<void> => {
    setError('');
    setResults([]);
    try {
      const f = parseValidationFile(yaml);
      setText(yaml);
      setFile(f);
      setRunning(true);
      // A fresh tenant, so that data already in the current one cannot change the outcome.
      const tenant = `playground-${randomId()}`;
      await props.api.call('/v1/tenants/create', { id: tenant, name: 'playground scenario' });
      const at = await loadValidationFile(props.api, tenant, f);
      props.onLoaded(f, at, tenant);
      const all: AssertionResult[] = [];
      await runScenarios(props.api, tenant, f, at, (r) => {
        all.push(r);
        setResults([...all]);
      });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setRunning(false);
    }
  };

  const exportFile = (): void => {
    const yaml = exportValidationFile({
      schema: props.schemaText,
      relationships: props.tuples.map(formatTuple),
      attributes: props.attributes.map(formatAttribute),
      scenarios: file?.scenarios ?? [],
    });
    download('playground.yaml', yaml);
  };

  const passed = results.filter((r) => r.pass).length;
  const skipped = results.filter((r) => r.skipped !== undefined).length;
  return (
    <div>
      <div class="row">
        <input
          type="file"
          accept=".yaml,.yml"
          data-testid="scenario-file"
          onChange={async (e) => {
            const f = e.currentTarget.files?.[0];
            if (f) await importText(await f.text());
          }}
        />
        <button
          data-testid="run-scenarios"
          disabled={running || text.trim() === ''}
          onClick={() => void importText(text)}
        >
          {running ? 'running…' : 'load and run'}
        </button>
        <button data-testid="export-scenarios" onClick={exportFile}>
          export YAML
        </button>
      </div>
      <p class="muted">
        Loading a file creates a new tenant, writes the file's schema, relationships and attributes there and runs every
        assertion.
      </p>
      <textarea
        class="yaml"
        rows={6}
        placeholder="paste a Permify validation file (schema, relationships, attributes, scenarios)"
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      {error ? <p class="error">{error}</p> : null}
      {results.length > 0 ? (
        <p data-testid="scenario-summary" class={passed === results.length - skipped ? 'pass' : 'fail'}>
          {passed} of {results.length - skipped} assertions passed{skipped > 0 ? `, ${skipped} skipped` : ''}
          {running ? ' so far' : ''}
        </p>
      ) : null}
      <table data-testid="scenario-results">
        <tbody>
          {results.map((r) => (
            <tr class={r.pass ? 'pass' : r.skipped !== undefined ? 'skipped' : 'fail'}>
              <td>{r.pass ? 'pass' : r.skipped !== undefined ? 'skipped' : 'FAIL'}</td>
              <td>{r.scenario}</td>
              <td>
                <code>{r.label}</code>
              </td>
              <td>
                {r.skipped !== undefined ? (
                  `warning: ${r.skipped}; not run`
                ) : (
                  <>
                    expected {r.expected || '(none)'}
                    {r.pass ? '' : `, got ${r.error ?? (r.actual || '(none)')}`}
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {/* Hidden marker for tests and scripts: the scenario run has finished. */}
      <span hidden data-testid="scenario-done">
        {!running && results.length > 0 ? 'done' : ''}
      </span>
    </div>
  );
}

/** The explain view: the proof tree of a check, each node with its outcome and what it read. */
import { describeNode, type ExplainNode, type ExplainResponse } from './explain-model.js';

function NodeItem(props: { node: ExplainNode }) {
  const v = describeNode(props.node);
  const children = props.node.children ?? [];
  const head = (
    <span class="node-head">
      <span class={`outcome ${v.outcomeClass}`}>{v.outcome}</span> <span class="node-kind">{v.kind}</span>{' '}
      <code>{v.title}</code>
      {v.cached ? <span class="cached"> cached</span> : null}
    </span>
  );
  return (
    <li class="explain-node" data-outcome={v.outcomeClass}>
      <details open>
        <summary>{head}</summary>
        {v.details.length > 0 ? (
          <ul class="node-details">
            {v.details.map((d) => (
              <li>{d}</li>
            ))}
          </ul>
        ) : null}
        {children.length > 0 ? (
          <ul class="tree">
            {children.map((c) => (
              <NodeItem node={c} />
            ))}
          </ul>
        ) : null}
      </details>
    </li>
  );
}

export type ExplainState =
  | { kind: 'none' }
  | { kind: 'unavailable' }
  | { kind: 'error'; message: string }
  | { kind: 'ok'; response: ExplainResponse };

export function ExplainView(props: { state: ExplainState }) {
  const s = props.state;
  if (s.kind === 'none') return <p class="muted">Run a check to see why it was allowed or denied.</p>;
  if (s.kind === 'unavailable')
    return (
      <p class="muted" data-testid="explain-unavailable">
        explain unavailable on this server
      </p>
    );
  if (s.kind === 'error') return <p class="error">explain failed: {s.message}</p>;
  const r = s.response;
  return (
    <div data-testid="explain-tree">
      <p class="muted">
        {r.can === 'CHECK_RESULT_ALLOWED' ? 'allowed' : r.can === 'CHECK_RESULT_DENIED' ? 'denied' : 'no answer'} ·
        checks {r.metadata?.check_count ?? 0} · depth {r.metadata?.depth ?? 0}
      </p>
      {r.error ? (
        <p class="error" data-testid="explain-error">
          Check would fail: {r.error.code} {r.error.message}
        </p>
      ) : null}
      {r.root ? (
        <ul class="tree root">
          <NodeItem node={r.root} />
        </ul>
      ) : null}
    </div>
  );
}

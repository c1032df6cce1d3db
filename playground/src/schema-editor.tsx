/**
 * The schema editor: CodeMirror 6 with Permify highlighting and live diagnostics. `lint` is asked (debounced)
 * for the diagnostics of the current text; they come from the server's compiler, located at the line and
 * column it reports.
 */
import { useEffect, useRef } from 'preact/hooks';
import { EditorState } from '@codemirror/state';
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  drawSelection,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { permifyLanguage } from './permify-language.js';

export interface SchemaEditorProps {
  /**
   * Text put into the editor from outside (initial text, an imported file). Only a new `seq` replaces the
   * editor's text: the editor owns its text, and comparing with the text it last reported would race with
   * typing (a render with an older text would undo newer keystrokes, and the two would ping-pong).
   */
  load: { text: string; seq: number };
  onChange: (text: string) => void;
  lint: (text: string) => Promise<Diagnostic[]>;
  onSave: () => void;
}

export function SchemaEditor(props: SchemaEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // The editor is created once; callbacks go through a ref so they always see the latest props.
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current as HTMLDivElement,
      state: EditorState.create({
        doc: latest.current.load.text,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          drawSelection(),
          history(),
          indentOnInput(),
          bracketMatching(),
          permifyLanguage,
          syntaxHighlighting(defaultHighlightStyle),
          lintGutter(),
          linter((ev) => latest.current.lint(ev.state.doc.toString()), { delay: 300 }),
          keymap.of([
            { key: 'Mod-s', preventDefault: true, run: () => (latest.current.onSave(), true) },
            indentWithTab,
            ...defaultKeymap,
            ...historyKeymap,
          ]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) latest.current.onChange(u.state.doc.toString());
          }),
          EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { fontFamily: 'ui-monospace, monospace' } }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
  }, []);

  const loaded = useRef(props.load.seq);
  useEffect(() => {
    const v = view.current;
    if (!v || loaded.current === props.load.seq) return;
    loaded.current = props.load.seq;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.load.text } });
  }, [props.load]);

  return <div class="editor" data-testid="schema-editor" ref={host} />;
}

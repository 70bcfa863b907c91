// Renders markdown as VS Code's notebook renderer and as JupyterLab 4 do, for tests/test_display_vscode.py.
// Input (stdin): JSON [{"id": ..., "markdown": ..., "pipeline": "vscode" | "jupyterlab"}, ...].
// Output (stdout): JSON [{"id": ..., "html": ...}, ...].
//  - vscode: markdown-it {html: true, linkify: true (fuzzyLink off)} + @vscode/markdown-it-katex with the
//    options VS Code's markdown-math extension passes (extensions/markdown-math/notebook/katex.ts).
//  - jupyterlab: @jupyterlab/rendermime's own removeMath / replaceMath around marked (the version
//    JupyterLab 4.6's markedparser-extension depends on, with its plugins), as renderMarkdown does; MathJax runs later in a
//    browser, so math stays as its delimited source here.
import { readFileSync } from 'node:fs';
import MarkdownIt from 'markdown-it';
import katexPlugin from '@vscode/markdown-it-katex';
import { marked } from 'marked';
import { gfmHeadingId } from 'marked-gfm-heading-id';
import { mangle } from 'marked-mangle';

globalThis.navigator = globalThis.navigator ?? { appName: 'node' }; // latex.js reads navigator.appName
const { removeMath, replaceMath } = await import('@jupyterlab/rendermime/lib/latex.js');

const vscode = new MarkdownIt({ html: true, linkify: true });
vscode.linkify.set({ fuzzyLink: false });
vscode.use(katexPlugin.default ?? katexPlugin, { globalGroup: true, enableBareBlocks: true, enableFencedBlocks: true, macros: {} });

// as @jupyterlab/markedparser-extension 4.6 configures it (its code renderer only adds highlighting)
marked.use(gfmHeadingId(), mangle());
marked.use({ gfm: true });

function jupyterlab(source) {
  const parts = removeMath(source);
  const html = marked.parse(parts.text, { async: false });
  return replaceMath(html, parts.math);
}

const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = cases.map((c) => ({
  id: c.id,
  html: c.pipeline === 'jupyterlab' ? jupyterlab(c.markdown) : vscode.render(c.markdown),
}));
process.stdout.write(JSON.stringify(out));

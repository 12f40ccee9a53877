// greeting is the page GET /hello answers: from the stage, to the name
// when one is given, escaped for HTML.
export function greeting(stage: string, name?: string): string {
  const who = name ? `, ${escape(name)}` : "";
  return `<p>hello from ${escape(stage)}${who}</p>`;
}

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => entities[c]);
}

// The page an agent's registration link opens (`{API_URL}/agents/new/<token>`):
// name the agent, give the gateway's admin token, submit, and the agent's
// next connection attempt is accepted. Plain HTML with a form, no script:
// it works in any browser. The form carries a CSRF token (an HMAC of the
// agent token under a key of this gateway run), so a page of another site
// cannot submit it; the admin token says the person submitting may register.

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{word-break:break-all}
.error{color:#b00020}input,button{font-size:1rem;padding:.4rem}</style></head>
<body>${body}</body></html>
`;
}

export function registrationPage(token: string, csrf: string, error?: string): string {
  return layout(
    'Register agent',
    `<h1>Register an agent</h1>
<p>An agent is waiting to be registered with this gateway, with the token <code>${escapeHtml(token)}</code>.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<p><label>Agent name <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{0,62}" autofocus></label></p>
<p><label>Admin token <input name="admin_token" type="password" required autocomplete="off"></label><br>
<small>The gateway wrote it to <code>admin.token</code> in its data directory (<code>~/.reagent/gateway</code> unless <code>--data-dir</code> says otherwise).</small></p>
<button type="submit">Register</button></form>`,
  );
}

export function registeredPage(name: string): string {
  return layout('Agent registered', `<h1>Agent registered</h1><p>Agent <strong>${escapeHtml(name)}</strong> is registered; it connects on its next attempt.</p>`);
}

// Links from mails land on /account with a one-time token in the fragment
// (#reset_token=... or #verify_token=...): the fragment never reaches a server
// log or a Referer, and it is removed from the address bar once read.
import { accessToken, ApiError, send } from '/account/session.js'
import { showSignedIn } from '/account/account-view.js'
import { alertError, explain, say } from '/account/page.js'
import { openResetLink } from '/account/reset-view.js'

/** Reads a mailed token from the fragment once, then removes it from the address bar and history. */
function takeHashToken() {
  const params = new URLSearchParams(location.hash.slice(1))
  const reset = params.get('reset_token')
  const verify = params.get('verify_token')
  if (reset || verify) history.replaceState(null, '', location.pathname + location.search)
  return { reset, verify }
}

/** Uses a mailed verification token; the link works once. */
async function confirmVerification(token) {
  try {
    await send('/auth/email-verification/confirm', { method: 'POST', body: { token } })
    say('Your email address is verified. Thank you.')
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ERR_ONE_TIME_TOKEN_INVALID') alertError('This verification link has expired or was already used.')
    else alertError(explain(err))
  }
}

/** Handles a mailed link's token in the fragment. True when the page now shows the reset form or the dead-link notice. */
export async function followMailLink() {
  const { reset, verify } = takeHashToken()
  if (reset) {
    await openResetLink(reset)
    return true
  }
  if (verify) {
    await confirmVerification(verify)
    if (accessToken()) await showSignedIn()
  }
  return false
}

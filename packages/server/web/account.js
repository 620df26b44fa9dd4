// Being signed in on the account page: whose account it is, and the ways out.
// The views that need either import them from here, so every view leaves for
// the sign-in view the same way: tokens forgotten, account forgotten.
import { announceSignOut, api, ApiError, forget, logout } from '/account/session.js'
import { alertError, clearMessages, explain, say, show } from '/account/page.js'

/** @type {{ email: string, email_verified: boolean } | null} */
let me = null

/** The signed-in account as GET /auth/me last described it; null once signed out. */
export function currentAccount() {
  return me
}

/** Asks the server who is signed in and keeps the answer; a failed call keeps the previous one and throws. */
export async function loadAccount() {
  me = await api('/auth/me')
  return me
}

/** Forgets the session and its account and shows the sign-in view, with `message` as a notice when given. */
export function showSignedOut(message) {
  forget()
  me = null
  show('view-signed-out')
  if (message) say(message)
}

/** Shared failure path: a lost session goes to the sign-in view, anything else is shown. */
export function handleFailure(err) {
  if (err instanceof ApiError && err.status === 401) {
    showSignedOut('This device was signed out. Sign in again to continue.')
    return
  }
  alertError(explain(err))
}

/** Signs this device out: ends the session on the server, tells the other tabs, shows the sign-in view. */
export async function signOut() {
  clearMessages()
  try {
    // A token that expired while the tab slept is refreshed first, so the session really ends; no refresh crosses it.
    await logout()
  } catch (err) {
    // A 401 is a session already over (ended elsewhere, or its refresh cookie refused): the outcome is the same.
    // Anything else (server unreachable, 503) leaves the session alive and the cookie set: saying "signed out"
    // on a shared computer would hand the account to the next person. Stay signed in and say so.
    if (!(err instanceof ApiError && err.status === 401)) {
      alertError(`You are still signed in. ${explain(err)}`)
      return
    }
  }
  announceSignOut()
  showSignedOut('You are signed out.')
}

// The devices list of the account view: every session of the account, newest
// first with this device on top, each with its own sign-out, and the
// "sign out all other devices" action below it.
import { api, ApiError } from '/account/session.js'
import { handleFailure, signOut } from '/account/account.js'
import { busy } from '/account/forms.js'
import { $, clearMessages, say } from '/account/page.js'

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

function relative(iso) {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000)
  const abs = Math.abs(seconds)
  if (abs < 45) return 'just now'
  if (abs < 3600) return relativeFormat.format(Math.round(seconds / 60), 'minute')
  if (abs < 86_400) return relativeFormat.format(Math.round(seconds / 3600), 'hour')
  if (abs < 30 * 86_400) return relativeFormat.format(Math.round(seconds / 86_400), 'day')
  return dateFormat.format(new Date(iso))
}

function setTime(el, iso) {
  el.dateTime = iso
  el.textContent = relative(iso)
  el.title = dateFormat.format(new Date(iso))
}

function deviceKind(session) {
  const text = `${session.os} ${session.user_agent}`.toLowerCase()
  if (/android|iphone|ios|mobile/.test(text)) return 'phone'
  if (/ipad|tablet/.test(text)) return 'tablet'
  return 'computer'
}

function renderDevice(session) {
  const template = /** @type {HTMLTemplateElement} */ ($('device-template'))
  const item = /** @type {HTMLElement} */ (template.content.firstElementChild.cloneNode(true))
  const client = [session.browser, session.os].filter(Boolean).join(' on ')
  const fallback = session.user_agent || 'Unknown browser'
  item.dataset.sessionId = session.session_id
  item.querySelector('.device-icon').classList.add(`device-icon-${deviceKind(session)}`)
  // textContent only: names and user agents come from users and must never become markup.
  item.querySelector('.device-title').textContent = session.device_name || client || 'Unnamed device'
  item.querySelector('.device-client').textContent = client || fallback
  item.querySelector('.device-ip').textContent = session.ip || 'unknown'
  setTime(item.querySelector('.device-created'), session.created_at)
  setTime(item.querySelector('.device-seen'), session.last_seen_at)
  // DPoP-bound: the session's tokens work only with proofs of a key that stays in that browser.
  item.querySelector('.badge-bound').hidden = !session.dpop_bound
  const button = /** @type {HTMLButtonElement} */ (item.querySelector('.device-sign-out'))
  if (session.current) {
    item.classList.add('device-current')
    item.querySelector('.badge-current').hidden = false
    button.textContent = 'Sign out'
    button.setAttribute('aria-label', 'Sign out of this device')
    button.addEventListener('click', () => void signOut())
  } else {
    button.setAttribute('aria-label', `Sign out ${session.device_name || client || 'this device'}`)
    button.addEventListener('click', () => void signOutDevice(session, item, button))
  }
  return item
}

/** Fetches the account's sessions and renders them; a lost session goes to the sign-in view. */
export async function loadDevices() {
  const list = $('devices')
  list.setAttribute('aria-busy', 'true')
  try {
    const { sessions } = await api('/auth/sessions')
    // The current device first, then newest first as the server sends them.
    sessions.sort((a, b) => Number(b.current) - Number(a.current))
    list.replaceChildren(...sessions.map(renderDevice))
    $('devices-foot').hidden = sessions.length < 2
  } catch (err) {
    handleFailure(err)
  } finally {
    list.removeAttribute('aria-busy')
  }
}

async function signOutDevice(session, item, button) {
  clearMessages()
  await busy(button, async () => {
    try {
      await api(`/auth/sessions/${encodeURIComponent(session.session_id)}`, { method: 'DELETE' })
      item.remove()
      say(`Signed out ${session.device_name || [session.browser, session.os].filter(Boolean).join(' on ') || 'the device'}.`)
      $('devices-foot').hidden = $('devices').children.length < 2
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ERR_SESSION_NOT_FOUND') {
        item.remove()
        say('That device was already signed out.')
      } else handleFailure(err)
    }
  })
}

/** Signs out every session of the account but this one, then lists what is left. */
export async function signOutOthers(event) {
  clearMessages()
  await busy(event.currentTarget, async () => {
    try {
      await api('/auth/logout-all', { method: 'POST', body: { except_current: true } })
      say('Every other device was signed out.')
      await loadDevices()
    } catch (err) {
      handleFailure(err)
    }
  })
}

// The DeepAffex scenario of issue #9, driven by the real JS client
// (@nuralogix.ai/dfx-api-client 1.0.73) against a live Portcullis under /dfx/.
//
//   node scenario.cjs <server url> <license key> <admin email> <admin password>
//
// Prints one JSON line of facts for the Rust test to check against the server (the user's
// id, the mail it should have got); exits non-zero at the first answer that is not the one
// expected, saying which step.
'use strict';
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const client = require('@nuralogix.ai/dfx-api-client').default;

const [base, licenseKey, adminEmail, adminPassword] = process.argv.slice(2);
const url = new URL('/dfx/', base);

const EMAIL = 'dee@affex.test';
const PASSWORD = 'violet staircase morning';
const NEW_PASSWORD = 'amber harbor lantern';

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app computes it: only for this
// test, the client has none.
function totp(base32, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// One client call: the step's name, and the status it must answer.
async function step(name, call, status = '200') {
  const res = await call();
  assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
  assert.ok(res.body && typeof res.body === 'object', `${name}: no JSON body`);
  if (status !== '200') {
    assert.equal(typeof res.body.Code, 'string', `${name}: no Code`);
    assert.equal(typeof res.body.Message, 'string', `${name}: no Message`);
  }
  return res.body;
}

async function main() {
  const api = client({ url: { http: url, wss: new URL('ws://127.0.0.1:1/') } });
  const http = api.http;

  // The boot-time check, and a license for this app.
  const status = await step('status', () => http.general.status());
  assert.equal(status.StatusID, 'ACTIVE');
  const license = await step('registerLicense', () =>
    http.organizations.registerLicense({
      Key: licenseKey, DeviceTypeID: 'LINUX', Name: 'scenario', Identifier: 'scenario-1', Version: '1.0.0',
    }));
  assert.ok('UserID' in license, 'registerLicense: UserID missing');
  assert.equal(api.getSession().deviceToken, license.Token, 'the client keeps the device token');

  // Create, log in, read.
  const created = await step('create', () =>
    http.users.create({ Email: EMAIL, Password: PASSWORD, FirstName: 'Dee', LastName: 'Affex', Gender: 'female', HeightCm: '170' }, 'device'));
  await step('create again', () => http.users.create({ Email: EMAIL, Password: PASSWORD }, 'device'), '400');
  await step('login, wrong password', () => http.users.login({ Email: EMAIL, Password: 'not the password' }), '401');
  const first = await step('login', () => http.users.login({ Email: EMAIL, Password: PASSWORD }));
  assert.equal(api.getSession().userToken, first.Token, 'the client keeps the user token');
  let me = await step('retrieve', () => http.users.retrieve());
  assert.equal(me.ID, created.ID);
  assert.equal(me.Email, EMAIL);
  assert.equal(me.Gender, 'female');
  assert.equal(me.HeightCm, '170');
  assert.equal(me.MFAEnabled, false);
  assert.ok(!('Password' in me) || me.Password === '', 'retrieve: a password came back');

  // Update only what is given; the role.
  await step('update', () => http.users.update({ FirstName: 'Deedee', WeightKg: '61' }));
  me = await step('retrieve after update', () => http.users.retrieve());
  assert.equal(me.FirstName, 'Deedee');
  assert.equal(me.LastName, 'Affex');
  assert.equal(me.WeightKg, '61');
  const role = await step('retrieveUserRole', () => http.users.retrieveUserRole());
  assert.equal(role.Name, 'DFX_USR');

  // Change the password: the old one stops working.
  await step('changePassword, wrong current', () =>
    http.users.changePassword({ Identifier: 'default', Email: EMAIL, Password: 'wrong', NewPassword: NEW_PASSWORD }), '401');
  await step('changePassword', () =>
    http.users.changePassword({ Identifier: 'default', Email: EMAIL, Password: PASSWORD, NewPassword: NEW_PASSWORD }));
  await step('login, old password', () => http.users.login({ Email: EMAIL, Password: PASSWORD }), '401');
  await step('login, new password', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }));

  // Logout ends every session, not only the one it is called with.
  const other = await step('login elsewhere', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }));
  await step('login here', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }));
  await step('logout', () => http.users.logout());
  api.setSession({ userToken: other.Token });
  await step('retrieve after logout', () => http.users.retrieve(), '401');
  api.setSession({ userToken: '' });
  await step('retrieve without token', () => http.users.retrieve(), '401');

  // Two-factor: secret, then enable with a code from it.
  await step('login for 2FA', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }));
  const secret = await step('createTwoFactorAuthSecret', () => http.users.createTwoFactorAuthSecret());
  assert.match(secret.url, /^otpauth:\/\/totp\//);
  assert.match(secret.qrcode, /^data:image\/png;base64,/);
  await step('enable, wrong code', () =>
    http.users.enableTwoFactorAuthForLoggedInUser({ MFASecret: secret.secretBase32Encoded, MFAToken: (Number(totp(secret.secretBase32Encoded)) + 1) % 1000000 }), '400');
  // The JS type says number: a code with a leading zero loses it on the way.
  const enabled = await step('enableTwoFactorAuthForLoggedInUser', () =>
    http.users.enableTwoFactorAuthForLoggedInUser({ MFASecret: secret.secretBase32Encoded, MFAToken: Number(totp(secret.secretBase32Encoded)) }));
  assert.equal(enabled.success, true);
  me = await step('retrieve with MFA', () => http.users.retrieve());
  assert.equal(me.MFAEnabled, true);

  // Log in with MFA: without the code refused, with the next step's code accepted (this
  // step's code was just used, and a code is never taken twice).
  await step('login without MFAToken', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }), '401');
  const mfa = await step('login with MFAToken', () =>
    http.users.login({ Email: EMAIL, Password: NEW_PASSWORD, MFAToken: totp(secret.secretBase32Encoded, Date.now() + 30000) }));

  // Renew the user pair; the old refresh token is then refused, and the pair is one-time.
  const renewed = await step('renew', () => http.auths.renew({ Token: mfa.Token, RefreshToken: mfa.RefreshToken }, 'user'));
  assert.notEqual(renewed.RefreshToken, mfa.RefreshToken);
  assert.equal(api.getSession().userToken, renewed.Token, 'renew(user) stores the new pair');
  await step('retrieve after renew', () => http.users.retrieve());
  await step('renew reused', () => http.auths.renew({ Token: mfa.Token, RefreshToken: mfa.RefreshToken }, 'user'), '401');
  // Reuse ended that session: its renewed tokens are dead too.
  await step('retrieve after reuse', () => http.users.retrieve(), '401');

  // The device pair renews too, by the pair in the body.
  const device = await step('renew device', () =>
    http.auths.renew({ Token: license.Token, RefreshToken: license.RefreshToken }, 'device'));
  assert.equal(api.getSession().deviceToken, device.Token);
  await step('renew device reused', () =>
    http.auths.renew({ Token: license.Token, RefreshToken: license.RefreshToken }, 'device'), '401');

  // A reset link by mail (checked by the Rust side), the same answer for nobody.
  const reset = await step('requestResetPasswordLink', () =>
    http.auths.requestResetPasswordLink({ Email: EMAIL, Identifier: 'default' }));
  assert.equal(reset.success, true);
  await step('requestResetPasswordLink, nobody', () =>
    http.auths.requestResetPasswordLink({ Email: 'nobody@affex.test', Identifier: 'default' }));

  // The admin: the user's data removed, their second factor taken off.
  const admin = await step('admin login', () => http.users.login({ Email: adminEmail, Password: adminPassword }));
  const adminRole = await step('admin role', () => http.users.retrieveUserRole());
  assert.match(adminRole.Name, /^DFX_(ORG|SYS)_ADMIN$/);
  await step('delete (measurements)', () => http.users.delete(created.ID));
  await step('disableTwoFactorAuthForSpecifiedUser', () => http.users.disableTwoFactorAuthForSpecifiedUser(created.ID));
  assert.ok(admin.Token);

  // Back as the user (no second factor now), whose data is gone; then remove the account.
  await step('login after MFA off', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }));
  me = await step('retrieve after delete', () => http.users.retrieve());
  assert.equal(me.Gender, null);
  assert.equal(me.WeightKg, null);
  assert.equal(me.MFAEnabled, false);
  await step('remove', () => http.users.remove());
  await step('login after remove', () => http.users.login({ Email: EMAIL, Password: NEW_PASSWORD }), '401');

  console.log(JSON.stringify({ user_id: created.ID, email: EMAIL }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});

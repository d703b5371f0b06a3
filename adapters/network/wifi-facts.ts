// What an access point's D-Bus properties say, in the Reagent's wire values:
// the security type (NetworkManager's `key-mgmt` names) and the channel.

/** NM80211ApSecurityFlags. */
export const AP_SEC = {
  pairWep40: 0x1,
  pairWep104: 0x2,
  groupWep40: 0x10,
  groupWep104: 0x20,
  keyMgmtPsk: 0x100,
  keyMgmt8021x: 0x200,
  keyMgmtSae: 0x400,
  keyMgmtOwe: 0x800,
  keyMgmtEapSuiteB192: 0x2000,
} as const;

/** NM80211ApFlags: the AP requires encryption (static WEP shows only this). */
export const AP_FLAG_PRIVACY = 0x1;

export type WifiSecurity = 'none' | 'wep' | 'ieee8021x' | 'wpa-psk' | 'sae' | 'wpa-eap' | 'owe' | 'unknown';

const WEP_BITS = AP_SEC.pairWep40 | AP_SEC.pairWep104 | AP_SEC.groupWep40 | AP_SEC.groupWep104;

/**
 * The Reagent's classification (RSN flags, else WPA flags), with three fixes
 * that keep its vocabulary: a static-WEP AP (no WPA/RSN flags, privacy bit
 * set) is `wep`, not `none`; plain 802.1X key management is `wpa-eap`, not
 * `unknown`; WPA3-only APs are `sae` and enhanced-open ones `owe`.
 */
export function apSecurity(flags: number, wpaFlags: number, rsnFlags: number): WifiSecurity {
  const sec = rsnFlags !== 0 ? rsnFlags : wpaFlags;
  if (sec === 0) return (flags & AP_FLAG_PRIVACY) !== 0 ? 'wep' : 'none';
  if ((sec & WEP_BITS) !== 0) return (sec & AP_SEC.keyMgmt8021x) !== 0 ? 'ieee8021x' : 'wep';
  if ((sec & AP_SEC.keyMgmtPsk) !== 0) return 'wpa-psk';
  if ((sec & AP_SEC.keyMgmtSae) !== 0) return 'sae';
  if ((sec & (AP_SEC.keyMgmt8021x | AP_SEC.keyMgmtEapSuiteB192)) !== 0) return 'wpa-eap';
  if ((sec & AP_SEC.keyMgmtOwe) !== 0) return 'owe';
  return 'unknown';
}

/** IEEE 802.11 channel number of a centre frequency in MHz; 0 when the frequency is on no channel. */
export function channelOf(mhz: number): number {
  const exact = (base: number, step: number, lo: number, hi: number): number | null =>
    mhz >= lo && mhz <= hi && (mhz - base) % step === 0 ? (mhz - base) / step : null;
  if (mhz === 2484) return 14;
  return (
    exact(2407, 5, 2412, 2472) ?? // 2.4 GHz, channels 1-13
    exact(4000, 5, 4910, 4980) ?? // 4.9 GHz (Japan, public safety)
    exact(5000, 5, 5035, 5895) ?? // 5 GHz
    (mhz === 5935 ? 2 : null) ?? // 6 GHz channel 2, the band's odd one out
    exact(5950, 5, 5955, 7115) ?? // 6 GHz
    exact(56160, 2160, 58320, 70200) ?? // 60 GHz
    0
  );
}

"""Prices: ISO 4217 currencies (minor units and display symbol) and locale-aware formatting.

CURRENCIES is the closed list the catalog schema's currency enum must equal (a unit test checks it).
"""

from __future__ import annotations

from decimal import Decimal

# Active ISO 4217 codes with their minor units (decimals). Funds, metals and XDR/XSU-style codes are left out:
# nobody prices a T-shirt in them.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF "
    "CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG "
    "HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR "
    "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)
MINOR_UNITS: dict[str, int] = {
    **{c: 0 for c in _ZERO.split()},
    **{c: 2 for c in _TWO.split()},
    **{c: 3 for c in _THREE.split()},
}
CURRENCIES: tuple[str, ...] = tuple(sorted(MINOR_UNITS))

SYMBOLS: dict[str, str] = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "CN¥", "INR": "₹", "KRW": "₩", "CAD": "CA$",
    "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$", "BRL": "R$", "TWD": "NT$",
    "RUB": "₽", "TRY": "₺", "ILS": "₪", "PLN": "zł", "THB": "฿", "PHP": "₱", "VND": "₫", "NGN": "₦",
    "UAH": "₴", "KZT": "₸", "ZAR": "R", "CZK": "Kč", "HUF": "Ft", "SEK": "kr", "NOK": "kr", "DKK": "kr",
    "ISK": "kr", "CHF": "CHF", "EGP": "E£", "GHS": "GH₵", "CRC": "₡", "PYG": "₲", "MNT": "₮", "LAK": "₭",
    "KHR": "៛", "AZN": "₼", "GEL": "₾", "AMD": "֏", "BDT": "৳", "LKR": "Rs", "PKR": "Rs", "NPR": "Rs",
}  # fmt: skip

# Separators and symbol placement by language: (group, decimal, symbol after the number).
_NNBSP = "\u202f"
_STYLES: dict[str, tuple[str, str, bool]] = {
    "en": (",", ".", False), "ja": (",", ".", False), "zh": (",", ".", False), "ko": (",", ".", False),
    "he": (",", ".", False), "th": (",", ".", False), "hi": (",", ".", False),
    "de": (".", ",", True), "es": (".", ",", True), "it": (".", ",", True), "nl": (".", ",", False),
    "pt": (".", ",", False), "tr": (".", ",", False), "da": (".", ",", True), "id": (".", ",", False),
    "fr": (_NNBSP, ",", True), "sv": (_NNBSP, ",", True), "nb": (_NNBSP, ",", True),
    "fi": (_NNBSP, ",", True), "pl": (_NNBSP, ",", True), "cs": (_NNBSP, ",", True),
    "ru": (_NNBSP, ",", True), "uk": (_NNBSP, ",", True),
}  # fmt: skip


def decimals_of(amount: str) -> int:
    return len(amount.partition(".")[2])


def format_price(amount: str, currency: str, locale: str = "en-US") -> str:
    """`format_price("1234.5", "USD") == "$1,234.50"`; JPY has no decimals, KWD three. The amount is the
    schema's decimal string; the spec check has already refused more decimals than the currency has."""
    digits = MINOR_UNITS[currency]
    value = Decimal(amount).quantize(Decimal(1).scaleb(-digits))
    whole, _, fraction = f"{value:f}".partition(".")
    group, point, after = _STYLES.get(locale.split("-")[0].lower(), _STYLES["en"])
    grouped = f"{int(whole):,}".replace(",", group)
    number = f"{grouped}{point}{fraction}" if digits else grouped
    symbol = SYMBOLS.get(currency)
    if symbol is None:
        return f"{number}\u00a0{currency}" if after else f"{currency}\u00a0{number}"
    if after:
        return f"{number}\u00a0{symbol}"
    return f"{symbol}\u00a0{number}" if symbol.isalpha() else f"{symbol}{number}"

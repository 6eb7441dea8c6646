"""Units of measure said as words: "5 km" -> "five kilometers", "1 lb" -> "one pound".

Spelling is American throughout, like the rest of the spoken text ("kilometers", "liters",
"one thousand two hundred fifty"). One (exactly 1, not 1.0) takes the singular; every other amount
the plural ("zero point five kilograms"). Before a noun and after "a" or "an" the amount is an
adjective, hyphenated and singular: "a 5 km walk" -> "a five-kilometer walk".
"""

from __future__ import annotations

__all__ = ["UNITS", "say_measure"]

# written unit -> (singular, plural)
UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "ºC": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "ºF": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "º": ("degree", "degrees"),
}


def say_measure(amount_words: str, unit: str, *, one: bool, attributive: bool = False) -> str:
    """The amount (already in words) and its unit: ("five", "km") -> "five kilometers".

    ``one`` says the amount is exactly one (singular); ``attributive`` hyphenates the phrase for use
    before a noun ("a five-kilometer walk"), where English keeps the unit singular.
    """
    singular, plural = UNITS[unit]
    if attributive:
        return "-".join([*amount_words.split(), *singular.split()])
    return f"{amount_words} {singular if one else plural}"

"""Word lists the sample records are made of (ASCII only: rendered text needs no JSON escaping)."""

from __future__ import annotations

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Wei", "Aisha", "Mohammed", "Sofia", "Lucas", "Emma", "Hiroshi", "Yuki", "Olga", "Ivan",
    "Priya", "Arjun", "Fatima", "Omar", "Chloe", "Liam", "Noah", "Mia", "Ana", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Tanaka", "Nakamura", "Kowalski", "Novak", "Schmidt", "Muller", "Rossi", "Dubois", "Singh", "Khan",
)  # fmt: skip
COMPANY_WORDS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Soylent",
    "Cyberdyne", "Tyrell", "Massive", "Pied Piper", "Aperture", "Black Mesa", "Oscorp", "Gringotts",
    "Nakatomi", "Monarch", "Dunder", "Sterling", "Bluth", "Prestige", "Vortex", "Nimbus", "Zenith",
)  # fmt: skip
COMPANY_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "Corp", "Group", "Labs", "Systems", "Partners", "Co")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "corp.example")
CITIES = (
    ("New York", "US", "NY"), ("San Francisco", "US", "CA"), ("Austin", "US", "TX"), ("Chicago", "US", "IL"),
    ("Toronto", "CA", "ON"), ("London", "GB", None), ("Berlin", "DE", None), ("Paris", "FR", None),
    ("Madrid", "ES", None), ("Amsterdam", "NL", None), ("Tokyo", "JP", None), ("Sydney", "AU", "NSW"),
    ("Sao Paulo", "BR", "SP"), ("Mumbai", "IN", "MH"), ("Singapore", "SG", None), ("Dublin", "IE", None),
)  # fmt: skip
STREETS = ("Main St", "Market St", "High St", "Oak Ave", "Maple Dr", "Park Rd", "Station Rd", "King St")
INDUSTRIES = (
    "Technology", "Finance", "Healthcare", "Retail", "Manufacturing", "Education", "Media",
    "Transportation", "Energy", "Hospitality", "Telecommunications", "Consulting",
)  # fmt: skip
JOB_TITLES = (
    "CEO", "CTO", "VP Sales", "Head of Data", "Data Engineer", "Account Manager", "Marketing Manager",
    "Product Manager", "Software Engineer", "Analyst", "Director of Operations", "Procurement Lead",
)  # fmt: skip
PRODUCT_NAMES = ("Starter", "Growth", "Business", "Enterprise")

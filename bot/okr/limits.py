"""Input limits shared by validation (services, modals) and column sizes (storage)."""

OBJECTIVE_TITLE_MAX = 150  # fits a Block Kit header (150)
KR_TITLE_MAX = 200
DESCRIPTION_MAX = 2000
STATEMENT_MAX = 500  # vision, mission
NAME_MAX = 80  # team and cycle names
NOTE_MAX = 1000  # check-in note / blocker
UNIT_LABEL_MAX = 40
VALUE_MAX_ABS = 1e15  # beyond this a number is a typo, and floats lose whole units
CONFIDENCE_MIN, CONFIDENCE_MAX = 0, 10

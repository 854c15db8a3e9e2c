"""Reading what people type: one reader turns any message into everything it says.

Rules and lexicons, not a model: predictable, fast, per locale, and extended by editing data in
`content/<locale>/` (understanding.yaml, crisis.yaml, questions.yaml), never Python.
"""

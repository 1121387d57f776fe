"""Cost reporting: cost allocation tags, the Cost and Usage Report 2.0 export with its table, team budgets."""

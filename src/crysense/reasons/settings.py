"""The cry-reason settings the study evaluates (key -> what its table is titled): the parents' tags (every reason
with enough babies for the outer folds), upstream's curated subset, and hungry against every other tag. Plain data, so
the report text can name them without loading the models."""
SETTINGS = {"reasons": "parents' tags (every reason with enough babies)", "curated": "curated 5 reasons (upstream's subset)",
            "hungry": "hungry vs not hungry"}

# Thin wrapper around ./course (which works without make too).
.PHONY: lab test setup generate check-notebooks
.PHONY: grade student-bundle gradescope
lab:
	./course lab
test:
	./course test
setup:
	./course setup
generate:
	./course generate
check-notebooks:
	./course generate --check
# make grade SUBMISSION=path/to/01_jensen_elbo.ipynb [OUT=results.json]
grade:
	./course grade "$(SUBMISSION)" --out "$(or $(OUT),results.json)"
student-bundle:
	./course student-bundle
gradescope:
	./course gradescope $(ASSIGNMENT)

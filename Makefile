# Thin wrapper around ./course (which works without make too).
.PHONY: lab test setup generate check-notebooks
.PHONY: grade student-bundle gradescope
.PHONY: e2e site lint
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
# the browser test on every student notebook (CI runs notebook 01 only), the website, lint
e2e:
	./course e2e
site:
	./course site
lint:
	./course lint

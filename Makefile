# Thin wrapper around ./course (which works without make too).
.PHONY: lab test setup generate check-notebooks
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

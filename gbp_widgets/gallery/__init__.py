"""The Gallery's model, without widgets: which rows of a results folder are selected and in
what order (:mod:`.catalogue`), a page of them as one picture (:mod:`.contact_sheet`), and
the Explorer arguments that reopen an item (:mod:`.reopen`)."""

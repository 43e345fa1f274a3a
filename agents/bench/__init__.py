"""``textgym bench``: agents x tasks x reward modes x seeds, with honest statistics and plots."""

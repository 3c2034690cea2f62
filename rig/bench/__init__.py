"""The bench: which radio (emulated or a real stick), which devices, which features — and the strategy
that brings it up. Like labgrid's resources/drivers/strategies, plans never branch on emulated vs real;
the bench does."""

"""State-space models behind one interface (see `base.StateSpaceModel`)."""

"""dstats' screens: each is pushed by the app over the main table and reads only the Fleet."""

-- A review item's place in the platform's own review, in the platform's terms (Entra: the
-- definition, instance, stage and decision ids), so a confirmed decision can be written back
-- there; and what the platform itself says about the item (its own recommendation and
-- insights), kept as evidence beside Attest's.
ALTER TABLE review_items ADD COLUMN platform_coordinates TEXT NOT NULL DEFAULT '{}';
ALTER TABLE review_items ADD COLUMN platform_attributes TEXT NOT NULL DEFAULT '{}';

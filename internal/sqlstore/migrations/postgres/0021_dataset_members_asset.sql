-- An asset erased on its own (on request, or past its retention) taints
-- every dataset holding it: found by the asset.
CREATE INDEX dataset_members_asset ON dataset_members(asset_id);

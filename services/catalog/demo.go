package catalog

// DemoCategory is a category of the demo catalog: PUT Body to
// /catalog/categories/{Slug}.
type DemoCategory struct {
	Slug string
	Body PutCategoryRequest
}

// DemoProduct is a product of the demo catalog: PUT Body to
// /catalog/products/{SKU}, after its category.
type DemoProduct struct {
	SKU  string
	Body PutProductRequest
}

// Demo is a small catalog to start a new shop with.
type Demo struct {
	Categories []DemoCategory
	Products   []DemoProduct
}

// DemoCatalog returns a small, realistic catalog (4 categories, 12 products,
// prices in EUR) as API requests, so that the binary can seed a new data
// directory through Catalog's own API (and so publish every product as an
// event the other services copy). Put the categories first. Every request
// is valid; the tests put them all.
func DemoCatalog() Demo {
	active := true
	product := func(sku, category, name, short, long string, cents int64) DemoProduct {
		return DemoProduct{SKU: sku, Body: PutProductRequest{Name: name, ShortDescription: &short,
			LongDescription: &long, PriceCents: cents, Currency: "EUR", Category: category, Active: &active}}
	}
	return Demo{
		Categories: []DemoCategory{
			{Slug: "kitchen", Body: PutCategoryRequest{Name: "Kitchen"}},
			{Slug: "coffee-tea", Body: PutCategoryRequest{Name: "Coffee & tea"}},
			{Slug: "home-textiles", Body: PutCategoryRequest{Name: "Home textiles"}},
			{Slug: "stationery", Body: PutCategoryRequest{Name: "Stationery"}},
		},
		Products: []DemoProduct{
			product("KIT-KNIFE-CHEF-20", "kitchen", "Chef's knife, 20 cm",
				"Forged stainless-steel chef's knife with an olive-wood handle.",
				"Forged stainless-steel chef's knife with an olive-wood handle. The 20 cm blade is ground to 15° per side "+
					"and holds its edge through daily chopping. Hand wash and dry; sharpen on a whetstone.", 8900),
			product("KIT-BOARD-OAK-L", "kitchen", "Oak cutting board, large",
				"End-grain oak board, 45 × 30 cm, gentle on knife edges.",
				"End-grain oak board, 45 × 30 cm, gentle on knife edges. Juice groove on one side, flat on the other. "+
					"Oil it once a month with food-safe mineral oil.", 6450),
			product("KIT-PAN-CI-26", "kitchen", "Cast-iron skillet, 26 cm",
				"Pre-seasoned cast-iron skillet for searing, baking and the oven.",
				"Pre-seasoned cast-iron skillet for searing, baking and the oven. Works on every hob, induction included. "+
					"Weighs 2.4 kg; the helper handle makes it easy to lift.", 3995),
			product("KIT-SCALE-DIG", "kitchen", "Digital kitchen scale",
				"Slim kitchen scale weighing up to 5 kg in 1 g steps.",
				"Slim kitchen scale weighing up to 5 kg in 1 g steps. Tare button, glass top that wipes clean, "+
					"two AAA batteries included.", 2490),
			product("COF-BEANS-ETH-250", "coffee-tea", "Ethiopia Yirgacheffe beans, 250 g",
				"Light-roast single-origin beans with notes of jasmine and lemon.",
				"Light-roast single-origin beans with notes of jasmine and lemon. Washed process, grown at 1,900 m. "+
					"Roasted weekly; best within six weeks of the roast date printed on the bag.", 1290),
			product("COF-GRINDER-BURR", "coffee-tea", "Hand burr grinder",
				"Conical steel burr grinder with 40 click settings.",
				"Conical steel burr grinder with 40 click settings, from espresso to French press. Holds 30 g of beans; "+
					"comes apart without tools for cleaning.", 7900),
			product("COF-TEA-SENCHA-100", "coffee-tea", "Japanese sencha, 100 g",
				"Grassy, sweet green tea from Shizuoka, first flush.",
				"Grassy, sweet green tea from Shizuoka, first flush. Steep 1 minute at 70 °C; the leaves give three "+
					"infusions. Packed in a resealable tin.", 1450),
			product("COF-KETTLE-GOOSE", "coffee-tea", "Gooseneck kettle, 1 l",
				"Electric gooseneck kettle with temperature control to the degree.",
				"Electric gooseneck kettle with temperature control to the degree, from 40 to 100 °C. Holds its "+
					"temperature for an hour; the slim spout pours a steady stream for filter coffee.", 8900),
			product("TEX-TOWEL-LINEN-2", "home-textiles", "Linen tea towels, set of 2",
				"Stonewashed linen tea towels that dry glass without lint.",
				"Stonewashed linen tea towels that dry glass without lint. 50 × 70 cm, with a hanging loop. "+
					"Machine wash at 40 °C; they soften with every wash.", 2200),
			product("TEX-APRON-CANVAS", "home-textiles", "Canvas apron",
				"Heavy cotton canvas apron with a chest pocket and long ties.",
				"Heavy cotton canvas apron with a chest pocket and long ties that wrap to the front. "+
					"One size, adjustable neck strap.", 3400),
			product("STA-NOTEBOOK-A5-DOT", "stationery", "A5 notebook, dotted",
				"Lay-flat A5 notebook with 192 pages of dotted 100 g paper.",
				"Lay-flat A5 notebook with 192 pages of dotted 100 g paper that fountain-pen ink does not bleed "+
					"through. Numbered pages, two ribbons, a pocket in the back cover.", 1800),
			product("STA-PEN-FOUNTAIN-F", "stationery", "Fountain pen, fine nib",
				"Aluminium fountain pen with a fine steel nib and a converter.",
				"Aluminium fountain pen with a fine steel nib and a converter for bottled ink. Takes standard "+
					"international cartridges too; one blue cartridge included.", 4500),
		},
	}
}
